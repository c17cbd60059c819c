"""The Endpoint of client configs, end to end: a server created without an
endpoint (as in the spec's example) gets the server namespace's global
address, IPv6 first, and a client configured from it reaches the server;
in a namespace with nothing but loopback no endpoint can be determined, so
the client is created but its config answers 409 naming endpoint."""
import os
import re

from conftest import sh
from test_wireguard import ping, strip_wg_quick, wait_for


def test_detected_ipv6_endpoint_carries_the_tunnel(topology, wgmd_in, tmp_path):
    srv, cli, tag = topology["srv"], topology["cli"], topology["tag"]
    # a global IPv6 beside the topology's 198.18.0.1 and ULA fd18::1: it wins
    sh("ip", "-6", "addr", "add", "2001:db8:18::1/64", "dev", "ve-s" + tag, "nodad", ns=srv)
    sh("ip", "-6", "addr", "add", "2001:db8:18::2/64", "dev", "ve-c" + tag, "nodad", ns=cli)
    d = wgmd_in(srv)
    assert re.search(r"public endpoint: 2001:db8:18::1 of this host \(detected", d.text()), d.text()[-2000:]
    iface = "wge" + tag
    r = d.call("POST", "/wireguard/servers", json={"name": "ep", "interface": iface, "listen_port": 51840,
                                                  "ipv4_address": "10.79.0.1/24", "auto_start": True})
    assert r.status_code == 201, r.text
    server = r.json()["data"]
    assert server["endpoint"] is None and server["status"] == "running", server
    r = d.call("POST", "/wireguard/clients", json={"name": "phone", "server_id": server["id"],
                                                    "persistent_keepalive": 1})
    assert r.status_code == 201, r.text
    client = r.json()["data"]
    assert "Endpoint = [2001:db8:18::1]:51840" in client["config"].splitlines(), client["config"]

    cif = "wgd" + tag
    conf_path = os.path.join(str(tmp_path), "client.conf")
    with open(conf_path, "w") as f:
        f.write(strip_wg_quick(client["config"]))
    sh("wireguard-go", cif, ns=cli)
    sh("wg", "setconf", cif, conf_path, ns=cli)
    sh("ip", "addr", "add", client["ipv4_address"], "dev", cif, ns=cli)
    sh("ip", "link", "set", cif, "up", ns=cli)
    sh("ip", "route", "add", "10.79.0.0/24", "dev", cif, ns=cli)
    assert wait_for(lambda: ping(cli, "10.79.0.1")), "ping over a tunnel to the detected endpoint failed"
    status = d.call("GET", "/wireguard/servers/%d/status" % server["id"]).json()["data"]
    peer = [c for c in status["clients"] if c["public_key"] == client["public_key"]][0]
    # the client came over the IPv6 underlay the config named
    assert peer["endpoint"].startswith("[2001:db8:18::2]:"), peer


def test_loopback_only_namespace_answers_409(wgmd_in):
    ns = "wgm-lo-%x" % (os.getpid() & 0xFFFF)
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "set", "lo", "up", ns=ns)
        d = wgmd_in(ns)
        assert "public endpoint: no usable address on this host" in d.text(), d.text()[-2000:]
        r = d.call("POST", "/wireguard/servers", json={"name": "lo", "interface": "wgl%x" % (os.getpid() & 0xFFFF),
                                                      "listen_port": 51841, "ipv4_address": "10.80.0.1/24"})
        assert r.status_code == 201, r.text
        sid = r.json()["data"]["id"]
        r = d.call("POST", "/wireguard/clients", json={"name": "c", "server_id": sid})
        assert r.status_code == 201, r.text
        c = r.json()["data"]
        assert c["config"] is None and c["qr_code"] is None
        for q in ("", "?format=png"):
            r = d.call("GET", "/wireguard/clients/%d/config%s" % (c["id"], q))
            assert r.status_code == 409, r.text
            err = r.json()["error"]
            assert err["code"] == "RESOURCE_CONFLICT" and "endpoint" in err["details"], err
        # giving the server an endpoint is enough
        assert d.call("PUT", "/wireguard/servers/%d" % sid, json={"endpoint": "vpn.example.com"}).status_code == 200
        r = d.call("GET", "/wireguard/clients/%d/config" % c["id"])
        assert r.status_code == 200 and "Endpoint = vpn.example.com:51841" in r.text.splitlines(), r.text
        d.stop()
    finally:
        sh("ip", "netns", "del", ns, check=False)
