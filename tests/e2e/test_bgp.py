"""BGP end to end: wgmd (bgp.so, manage_daemon = yes: its own private BIRD)
in one namespace, a peer BIRD configured by the test in the other, joined
by veth.  A session created through the API comes up; a route the peer
exports shows in GET /bgp/routes; an announcement made through the API
reaches the peer's table; so does the pool of a prefix ipv6pool delegates
to a client (announce_allocations = aggregate, the default) until it is
released; stopping the session takes it down on the peer; deleting the
announcement withdraws it."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import PREFIX, sh

PLUGIN = os.path.join(PREFIX, "lib", "wgm", "plugins", "bgp.so")
BIRD, BIRDC = "/usr/sbin/bird", "/usr/sbin/birdc"

pytestmark = [pytest.mark.skipif(not os.path.exists(PLUGIN), reason="bgp.so is not built"),
              pytest.mark.skipif(not (os.path.exists(BIRD) and os.path.exists(BIRDC)), reason="bird is not installed")]

PEER_CONF = """
router id 198.18.0.2;
protocol device { }
protocol static peer_routes {
  ipv6;
  route fd98:1::/48 blackhole;
}
protocol bgp wgm_side {
  local fd18::2 as 65002;
  neighbor fd18::1 as 65001;
  hold time 9;
  keepalive time 3;
  connect retry time 2;
  error wait time 1, 3;
  ipv4 { import all; export none; };
  ipv6 { import all; export where proto = "peer_routes"; };
}
"""


def wait_for(fn, timeout=45, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(step)
    return False


@pytest.fixture
def peer_bird(topology, tmp_path):
    cli = topology["cli"]
    d = os.path.join(str(tmp_path), "peer")
    os.makedirs(d)
    conf, sock, pid = os.path.join(d, "bird.conf"), "/tmp/wgm-peer-%s.ctl" % topology["tag"], os.path.join(d, "bird.pid")
    with open(conf, "w") as f:
        f.write(PEER_CONF)
    sh(BIRD, "-c", conf, "-s", sock, "-P", pid, ns=cli)
    assert wait_for(lambda: os.path.exists(sock), timeout=10)
    yield {"ns": cli, "sock": sock}
    try:
        with open(pid) as f:
            os.kill(int(f.read().strip()), 15)
    except (OSError, ValueError):
        pass
    if os.path.exists(sock):
        os.unlink(sock)


def birdc(peer, *args):
    return sh(BIRDC, "-s", peer["sock"], *args, ns=peer["ns"], check=False).stdout


def peer_state(peer):
    return birdc(peer, "show", "protocols", "wgm_side")


def test_session_routes_and_announcements(topology, peer_bird, wgmd_in, tmp_path):
    srv, tag = topology["srv"], topology["tag"]
    os.makedirs(os.path.join(str(tmp_path), "conf.d"), exist_ok=True)
    with open(os.path.join(str(tmp_path), "conf.d", "70-bgp.conf"), "w") as f:
        f.write("[bgp]\nenabled = yes\nmanage_daemon = yes\nrouter_id = 198.18.0.1\nlocal_as = 65001\n"
                "bird_socket = /tmp/wgm-own-%s.ctl\n" % tag)
    # ipv6pool keeps a client_id as given without the wireguard plugin
    with open(os.path.join(str(tmp_path), "conf.d", "50-wireguard.conf"), "w") as f:
        f.write("[wireguard]\nenabled = no\n")
    d = wgmd_in(srv)

    r = d.call("POST", "/bgp/sessions", json={"name": "peer", "neighbor": "fd18::2", "remote_as": 65002,
                                             "hold_time": 9, "keepalive": 3, "connect_retry": 2})
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["id"]

    def status():
        return d.call("GET", "/bgp/sessions/%d" % sid).json()["data"]["status"]
    assert wait_for(lambda: status() == "established"), (status(), peer_state(peer_bird), d.text()[-2000:])
    s = d.call("GET", "/bgp/sessions/%d" % sid).json()["data"]
    assert s["last_error"] is None and s["uptime"] >= 0
    listed = d.call("GET", "/bgp/sessions?status=established").json()["data"]["sessions"]
    assert [x["id"] for x in listed] == [sid]

    # the peer's route, with its attributes as BIRD reports them
    def peer_route():
        rs = d.call("GET", "/bgp/routes?prefix=fd98::/16").json()["data"]["routes"]
        return rs[0] if rs else None
    assert wait_for(peer_route), d.call("GET", "/bgp/routes").text
    rt = peer_route()
    assert rt["prefix"] == "fd98:1::/48" and rt["session_id"] == sid and rt["as_path"] == "65002"
    assert rt["origin"] == "igp" and rt["next_hop"].startswith("fd18::2") and rt["status"] == "active"
    assert d.call("GET", "/bgp/routes?prefix=2001:db8::/32").json()["data"]["routes"] == []
    assert wait_for(lambda: d.call("GET", "/bgp/sessions/%d" % sid).json()["data"]["routes_received"] == 1)

    # an announcement reaches the peer's table
    r = d.call("POST", "/bgp/announcements", json={"prefix": "2001:db8:4400::/48", "session_id": sid,
                                                  "communities": ["65001:42"]})
    assert r.status_code == 201, r.text
    aid = r.json()["data"]["id"]
    assert wait_for(lambda: "2001:db8:4400::/48" in birdc(peer_bird, "show", "route")), birdc(peer_bird, "show", "route")
    assert "65001:42" in birdc(peer_bird, "show", "route", "all", "for", "2001:db8:4400::/48") or \
        "(65001,42)" in birdc(peer_bird, "show", "route", "all", "for", "2001:db8:4400::/48")

    # a prefix delegated to a client: its pool's aggregate reaches the peer, not the /64
    r = d.call("POST", "/ipv6/pools", json={"name": "e2e", "prefix": "2001:db8:7700::/48", "prefix_length": 64})
    assert r.status_code == 201, r.text
    r = d.call("POST", "/ipv6/allocations", json={"pool_id": r.json()["data"]["id"], "client_id": 1})
    assert r.status_code == 201, r.text
    alloc = r.json()["data"]
    assert wait_for(lambda: "2001:db8:7700::/48" in birdc(peer_bird, "show", "route")), \
        (birdc(peer_bird, "show", "route"), d.call("GET", "/bgp/announcements").text)
    assert alloc["allocated_prefix"] not in birdc(peer_bird, "show", "route")
    assert [a["source"] for a in d.call("GET", "/bgp/announcements").json()["data"]["announcements"]
            if a["prefix"] == "2001:db8:7700::/48"] == ["ipv6pool"]
    assert d.call("DELETE", "/ipv6/allocations/%d" % alloc["id"]).status_code == 200
    assert wait_for(lambda: "2001:db8:7700::/48" not in birdc(peer_bird, "show", "route")), \
        birdc(peer_bird, "show", "route")

    # stopping the session through the API takes it down on the peer
    assert d.call("POST", "/bgp/sessions/%d/stop" % sid).status_code == 200
    assert wait_for(lambda: "Established" not in peer_state(peer_bird)), peer_state(peer_bird)
    assert status() != "established"
    assert wait_for(lambda: "2001:db8:4400::/48" not in birdc(peer_bird, "show", "route"))

    # back up; then deleting the announcement withdraws it
    assert d.call("POST", "/bgp/sessions/%d/start" % sid).status_code == 200
    assert wait_for(lambda: status() == "established"), peer_state(peer_bird)
    assert wait_for(lambda: "2001:db8:4400::/48" in birdc(peer_bird, "show", "route"))
    assert d.call("DELETE", "/bgp/announcements/%d" % aid).status_code == 200
    assert wait_for(lambda: "2001:db8:4400::/48" not in birdc(peer_bird, "show", "route")), birdc(peer_bird, "show", "route")
    assert "Established" in peer_state(peer_bird)
    own = "/tmp/wgm-own-%s.ctl" % tag
    d.stop()
    if os.path.exists(own):
        os.unlink(own)
