"""bgp.so following ipv6pool.so ([bgp] announce_allocations) and the
bgp_status WebSocket message, on a real wgmd with both plugins and a
private BIRD (manage_daemon = yes).

A "delegated" prefix is an allocation bound to a client_id (without the
wireguard plugin ipv6pool keeps any client_id as given).  aggregate
announces a pool's prefix while it has one, each announces every one, no
announces none; the rows show in GET /bgp/announcements with source
"ipv6pool", reach BIRD, cannot be deleted through the API, and converge
after a restart with another mode or a late bgp.so."""
import os
import subprocess
import threading
import time

import pytest

from conftest import PREFIX, assert_error
from test_websocket import connect

BGP = os.path.join(PREFIX, "lib", "wgm", "plugins", "bgp.so")
IPV6POOL = os.path.join(PREFIX, "lib", "wgm", "plugins", "ipv6pool.so")
BIRD, BIRDC = "/usr/sbin/bird", "/usr/sbin/birdc"

pytestmark = [pytest.mark.skipif(not (os.path.exists(BGP) and os.path.exists(IPV6POOL)),
                                 reason="bgp.so and ipv6pool.so are not installed in " + PREFIX),
              pytest.mark.skipif(not (os.path.exists(BIRD) and os.path.exists(BIRDC)),
                                 reason="bird is not installed")]

POOL_STATUS_MS = 300  # ipv6_status, the reconciliation tick


def bgp_dropin(sock, mode=None, enabled="yes", extra=""):
    text = ("[bgp]\nenabled = %s\nmanage_daemon = yes\nrouter_id = 10.1.1.1\nlocal_as = 65000\n"
            "status_interval = 1\nbird_socket = %s\n" % (enabled, sock))
    if mode:
        text += "announce_allocations = %s\n" % mode
    return text + extra


def dropins(sock, mode=None, bgp_enabled="yes", status_ms=POOL_STATUS_MS):
    return {"60-ipv6pool.conf": "[ipv6pool]\nenabled = yes\nquarantine_seconds = 0\nstatus_interval_ms = %d\n"
                                  "delegations_interval_ms = %d\n"
                                % (status_ms, status_ms),
            "70-bgp.conf": bgp_dropin(sock, mode, bgp_enabled)}


def new_sock():
    return "/tmp/wgm-bgpf-%d-%s.ctl" % (os.getpid(), os.urandom(3).hex())


@pytest.fixture
def make(daemons):
    """make(mode=None) -> (wgmd with ipv6pool + bgp, admin token)."""
    socks = []

    def start(mode=None, start=True, bgp_enabled="yes", status_ms=POOL_STATUS_MS):
        sock = new_sock()
        socks.append(sock)
        d = daemons(start=start, plugins=[IPV6POOL, BGP], dropins=dropins(sock, mode, bgp_enabled, status_ms))
        d.bird_socket = sock
        return (d, d.login()) if start else (d, None)

    yield start
    for s in socks:
        if os.path.exists(s):
            os.unlink(s)


def set_mode(d, mode, enabled="yes"):
    with open(os.path.join(d.dir, "conf.d", "70-bgp.conf"), "w") as f:
        f.write(bgp_dropin(d.bird_socket, mode, enabled))


def mk_pool(d, tok, name="p1", prefix="2001:db8::/48", plen=64):
    r = d.call("POST", "/ipv6/pools", token=tok, json={"name": name, "prefix": prefix, "prefix_length": plen})
    assert r.status_code == 201, r.text
    return r.json()["data"]


def mk_alloc(d, tok, pool_id, **kw):
    r = d.call("POST", "/ipv6/allocations", token=tok, json=dict(pool_id=pool_id, **kw))
    assert r.status_code == 201, r.text
    return r.json()["data"]


def release(d, tok, alloc_id):
    r = d.call("DELETE", "/ipv6/allocations/%d" % alloc_id, token=tok)
    assert r.status_code == 200, r.text


def anns(d, tok, source=None):
    r = d.call("GET", "/bgp/announcements", token=tok)
    assert r.status_code == 200, r.text
    return [a for a in r.json()["data"]["announcements"] if source is None or a["source"] == source]


def auto(d, tok):
    """{prefix: source_ref} of the rows that follow ipv6pool."""
    return {a["prefix"]: a["source_ref"] for a in anns(d, tok, "ipv6pool")}


def bird_conf(d):
    with open(os.path.join(d.state, "bgp", "wgm.conf")) as f:
        return f.read()


def bird_routes(d):
    """What BIRD itself has: the static routes wgm's include made."""
    return subprocess.run([BIRDC, "-s", d.bird_socket, "show", "route"], capture_output=True, text=True,
                          timeout=10).stdout


def wait_for(fn, timeout=10, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def wait_auto(d, tok, want, timeout=10):
    got = wait_for(lambda: auto(d, tok) == want, timeout=timeout)
    assert got, (auto(d, tok), want, d.log_text()[-3000:])


def settle():
    """Long enough for several ipv6_status ticks."""
    time.sleep(POOL_STATUS_MS * 4 / 1000.0)


# --- aggregate ----------------------------------------------------------------

def test_aggregate_is_the_default_and_follows_delegations(make):
    d, tok = make()  # no announce_allocations: aggregate
    p = mk_pool(d, tok)
    ref = "pool:%d" % p["id"]
    settle()
    assert auto(d, tok) == {}, "an empty pool is not announced"
    plain = mk_alloc(d, tok, p["id"])  # no client: routed to nobody
    settle()
    assert auto(d, tok) == {}, "an allocation without a client is not announced"
    a = mk_alloc(d, tok, p["id"], client_id=5)
    wait_auto(d, tok, {"2001:db8::/48": ref})
    row = anns(d, tok, "ipv6pool")[0]
    assert row["session_id"] is None and row["communities"] == [] and row["source_ref"] == ref
    assert "route 2001:db8::/48 blackhole;" in bird_conf(d)
    assert wait_for(lambda: "2001:db8::/48" in bird_routes(d)), bird_routes(d)
    b = mk_alloc(d, tok, p["id"], client_id=6)
    settle()
    assert auto(d, tok) == {"2001:db8::/48": ref}, "one aggregate however many delegations"
    release(d, tok, a["id"])
    settle()
    assert auto(d, tok) == {"2001:db8::/48": ref}, "still one delegated prefix left"
    release(d, tok, plain["id"])
    release(d, tok, b["id"])
    wait_auto(d, tok, {})
    assert "2001:db8::/48" not in bird_conf(d)
    assert wait_for(lambda: "2001:db8::/48" not in bird_routes(d)), bird_routes(d)


def test_aggregate_pool_delete_and_expiry_withdraw(make):
    d, tok = make("aggregate")
    p1 = mk_pool(d, tok, "p1", "2001:db8:1::/48")
    p2 = mk_pool(d, tok, "p2", "2001:db8:2::/48")
    mk_alloc(d, tok, p1["id"], client_id=1)
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    mk_alloc(d, tok, p2["id"], client_id=2, expires_at=soon)
    wait_auto(d, tok, {"2001:db8:1::/48": "pool:%d" % p1["id"], "2001:db8:2::/48": "pool:%d" % p2["id"]})
    r = d.call("DELETE", "/ipv6/pools/%d?force=true" % p1["id"], token=tok)
    assert r.status_code == 200, r.text
    wait_auto(d, tok, {"2001:db8:2::/48": "pool:%d" % p2["id"]})
    wait_auto(d, tok, {}, timeout=60)  # expire_interval_ms is 30 s by default
    assert "2001:db8:" not in bird_conf(d)


@pytest.mark.parametrize("mode", ["aggregate", "each"])
def test_events_alone_are_enough(make, mode):
    """No ipv6_status within the test: the events do it all, at once."""
    d, tok = make(mode, status_ms=600000)
    p = mk_pool(d, tok)
    a = mk_alloc(d, tok, p["id"], client_id=1)
    want = a["allocated_prefix"] if mode == "each" else "2001:db8::/48"
    wait_auto(d, tok, {want: "pool:%d" % p["id"]}, timeout=5)
    release(d, tok, a["id"])
    wait_auto(d, tok, {}, timeout=5)
    a = mk_alloc(d, tok, p["id"], client_id=1)
    want = a["allocated_prefix"] if mode == "each" else "2001:db8::/48"
    wait_auto(d, tok, {want: "pool:%d" % p["id"]}, timeout=5)
    assert d.call("DELETE", "/ipv6/pools/%d?force=true" % p["id"], token=tok).status_code == 200
    wait_auto(d, tok, {}, timeout=5)
    assert "2001:db8:" not in bird_conf(d)


# --- each and no ---------------------------------------------------------------

def test_each_announces_every_delegated_prefix(make):
    d, tok = make("each")
    p = mk_pool(d, tok)
    ref = "pool:%d" % p["id"]
    a = mk_alloc(d, tok, p["id"], client_id=1)
    b = mk_alloc(d, tok, p["id"], client_id=2)
    mk_alloc(d, tok, p["id"])  # no client
    pa, pb = a["allocated_prefix"], b["allocated_prefix"]
    wait_auto(d, tok, {pa: ref, pb: ref})
    conf = bird_conf(d)
    assert "route %s blackhole;" % pa in conf and "route %s blackhole;" % pb in conf
    assert "2001:db8::/48" not in conf
    assert wait_for(lambda: pa in bird_routes(d) and pb in bird_routes(d)), bird_routes(d)
    release(d, tok, a["id"])
    wait_auto(d, tok, {pb: ref})
    assert pa not in bird_conf(d)
    assert d.call("DELETE", "/ipv6/pools/%d?force=true" % p["id"], token=tok).status_code == 200
    wait_auto(d, tok, {})
    assert wait_for(lambda: pb not in bird_routes(d)), bird_routes(d)


def test_no_announces_nothing(make):
    d, tok = make("no")
    p = mk_pool(d, tok)
    mk_alloc(d, tok, p["id"], client_id=1)
    settle()
    assert auto(d, tok) == {}
    assert "2001:db8:" not in bird_conf(d)
    d.wait_log(r"ipv6pool allocations announced: no")


def test_bad_mode_is_refused(make):
    d, _ = make("sometimes", start=False)
    rc, out = d.check()
    assert rc != 0 and "announce_allocations" in out, out


# --- deletion through the API ----------------------------------------------------

def test_automatic_announcement_cannot_be_deleted(make):
    d, tok = make("aggregate")
    p = mk_pool(d, tok)
    a = mk_alloc(d, tok, p["id"], client_id=1)
    wait_auto(d, tok, {"2001:db8::/48": "pool:%d" % p["id"]})
    row = anns(d, tok, "ipv6pool")[0]
    err = assert_error(d.call("DELETE", "/bgp/announcements/%d" % row["id"], token=tok), 409, "RESOURCE_CONFLICT")
    assert err["details"] == {"source": "ipv6pool", "source_ref": "pool:%d" % p["id"]}
    assert "announce_allocations" in err["message"]
    assert auto(d, tok) == {"2001:db8::/48": "pool:%d" % p["id"]}
    assert "2001:db8::/48" in bird_conf(d)
    # The operator may pin the same prefix: it stays when the pool lets go.
    r = d.call("POST", "/bgp/announcements", token=tok, json={"prefix": "2001:db8::/48", "description": "pinned"})
    assert r.status_code == 201, r.text
    pinned = r.json()["data"]
    assert pinned["source"] == "api" and pinned["source_ref"] is None
    release(d, tok, a["id"])
    wait_auto(d, tok, {})
    assert [x["id"] for x in anns(d, tok)] == [pinned["id"]]
    assert bird_conf(d).count("route 2001:db8::/48 blackhole;") == 1
    assert d.call("DELETE", "/bgp/announcements/%d" % pinned["id"], token=tok).status_code == 200
    assert "2001:db8::/48" not in bird_conf(d)


# --- convergence ----------------------------------------------------------------

def test_restart_with_another_mode_converges(make):
    d, tok = make("aggregate")
    p = mk_pool(d, tok)
    ref = "pool:%d" % p["id"]
    a = mk_alloc(d, tok, p["id"], client_id=1)
    b = mk_alloc(d, tok, p["id"], client_id=2)
    wait_auto(d, tok, {"2001:db8::/48": ref})
    assert d.stop() == 0

    # each, through the environment this time
    d.env["WGM_BGP_ANNOUNCE_ALLOCATIONS"] = "each"
    d.start()
    tok = d.login()
    d.wait_log(r"ipv6pool allocations announced: each")
    wait_auto(d, tok, {a["allocated_prefix"]: ref, b["allocated_prefix"]: ref})
    conf = bird_conf(d)
    assert "2001:db8::/48" not in conf and a["allocated_prefix"] in conf
    assert d.stop() == 0

    del d.env["WGM_BGP_ANNOUNCE_ALLOCATIONS"]
    set_mode(d, "no")
    d.start()
    tok = d.login()
    wait_auto(d, tok, {})
    assert "2001:db8:" not in bird_conf(d)
    assert d.stop() == 0

    set_mode(d, "aggregate")
    d.start()
    tok = d.login()
    wait_auto(d, tok, {"2001:db8::/48": ref})
    assert wait_for(lambda: "2001:db8::/48" in bird_routes(d)), bird_routes(d)


def test_bgp_loaded_after_the_allocations(make):
    d, tok = make("aggregate", bgp_enabled="no")
    p = mk_pool(d, tok)
    mk_alloc(d, tok, p["id"], client_id=1)
    assert d.call("GET", "/bgp/announcements", token=tok).status_code == 404
    assert d.stop() == 0
    set_mode(d, "aggregate")
    d.start()
    tok = d.login()
    wait_auto(d, tok, {"2001:db8::/48": "pool:%d" % p["id"]})
    # Converged: later ticks change nothing (the include file is not rewritten).
    mtime = os.stat(os.path.join(d.state, "bgp", "wgm.conf")).st_mtime_ns
    settle()
    assert os.stat(os.path.join(d.state, "bgp", "wgm.conf")).st_mtime_ns == mtime


def test_concurrent_api_writes_and_events_all_reach_bird(make):
    """API announcements and pool events at once: every committed row is in
    the applied file (the writer lock orders render, apply and commit; on
    SQLite BEGIN IMMEDIATE alone would, on MariaDB it takes the lock)."""
    d, tok = make("each")
    p = mk_pool(d, tok)
    allocs, created, errors = [], [], []

    def api_side():
        for i in range(8):
            r = d.call("POST", "/bgp/announcements", token=tok, json={"prefix": "2001:db8:f%x::/48" % i})
            (created if r.status_code == 201 else errors).append(r.text)

    def pool_side():
        for i in range(8):
            allocs.append(mk_alloc(d, tok, p["id"], client_id=100 + i)["allocated_prefix"])

    ts = [threading.Thread(target=api_side), threading.Thread(target=pool_side)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors and len(created) == 8
    wait_auto(d, tok, {x: "pool:%d" % p["id"] for x in allocs})
    conf = bird_conf(d)
    for prefix in [a["prefix"] for a in anns(d, tok)]:
        assert "route %s blackhole;" % prefix in conf, prefix


# --- bgp_status ---------------------------------------------------------------------

def api_key(d, tok, perms):
    r = d.call("POST", "/auth/api-keys", token=tok,
               json={"name": "k" + os.urandom(3).hex(), "access_level": "read", "permissions": perms})
    assert r.status_code == 201, r.text
    return r.json()["data"]["api_key"]


def test_bgp_status_over_websocket(make):
    d, tok = make()
    r = d.call("POST", "/bgp/sessions", token=tok, json={"name": "s1", "neighbor": "fd00:99::2", "remote_as": 65001})
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["id"]
    viewer, _ = connect(d, api_key(d, tok, ["bgp.view"]))
    other, welcome = connect(d, api_key(d, tok, ["ipv6.view"]))
    assert "bgp_status" not in welcome["data"]["types"]
    msg = viewer.recv_json(timeout=5, types=["bgp_status"])["data"]
    assert set(msg) == {"available", "sessions_count", "established_sessions", "routes_received",
                        "routes_advertised", "sessions"}
    assert msg["available"] is True and msg["sessions_count"] == 1 and msg["established_sessions"] == 0
    assert msg["routes_received"] == 0 and msg["routes_advertised"] == 0
    s = msg["sessions"][0]
    assert set(s) == {"id", "name", "neighbor", "status", "uptime", "routes_received", "routes_advertised"}
    assert s["id"] == sid and s["name"] == "s1" and s["neighbor"] == "fd00:99::2"
    assert s["status"] in ("idle", "active", "connect") and s["uptime"] == 0
    # The ipv6.view holder gets ipv6_status, never bgp_status.
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            m = other.recv_json(timeout=max(0.1, deadline - time.time()))
        except OSError:
            break
        assert m["type"] != "bgp_status", m
    viewer.close()
    other.close()


def test_bgp_status_without_bird(daemons):
    d = daemons(plugins=[BGP], dropins={"70-bgp.conf": "[bgp]\nenabled = yes\nmanage_daemon = no\nstatus_interval = 1\n"
                                                      "bird_socket = /tmp/wgm-no-such-bird.ctl\n"
                                                      "include_file = /tmp/wgm-no-such-dir/wgm.conf\n"})
    tok = d.login()
    ws, _ = connect(d, tok)
    msg = ws.recv_json(timeout=5, types=["bgp_status"])["data"]
    assert msg == {"available": False, "sessions_count": 0, "established_sessions": None, "routes_received": None,
                   "routes_advertised": None, "sessions": []}
    ws.close()
