"""Routed IPv6 prefix delegation end to end: a /64 from an ipv6pool pool is
allocated to a WireGuard client; wgm adds it to the peer's AllowedIPs and
routes it on the server; an address inside it, configured on the client
side, answers a ping from the server namespace across the tunnel.
Releasing the allocation withdraws both."""
import os

import pytest

from conftest import PREFIX, sh
from test_wireguard import ping, strip_wg_quick, wait_for

PLUGIN = os.path.join(PREFIX, "lib", "wgm", "plugins", "ipv6pool.so")


@pytest.mark.skipif(not os.path.exists(PLUGIN), reason="ipv6pool.so is not built")
def test_delegated_prefix_is_routed_through_the_tunnel(topology, wgmd_in, tmp_path):
    srv, cli, tag = topology["srv"], topology["cli"], topology["tag"]
    d = wgmd_in(srv)
    iface, cif = "wgp" + tag, "wgq" + tag
    server = d.call("POST", "/wireguard/servers", json={
        "name": "p", "interface": iface, "listen_port": 51840, "ipv4_address": "10.79.0.1/24",
        "ipv6_address": "fd79::1/64", "endpoint": "198.18.0.1", "auto_start": True}).json()["data"]
    client = d.call("POST", "/wireguard/clients", json={"name": "router", "server_id": server["id"],
                                                         "persistent_keepalive": 1}).json()["data"]
    conf = os.path.join(str(tmp_path), "c.conf")
    with open(conf, "w") as f:
        f.write(strip_wg_quick(client["config"]))
    sh("wireguard-go", cif, ns=cli)
    sh("wg", "setconf", cif, conf, ns=cli)
    sh("ip", "addr", "add", "10.79.0.2/32", "dev", cif, ns=cli)
    sh("ip", "-6", "addr", "add", "fd79::2/128", "dev", cif, "nodad", ns=cli)
    sh("ip", "link", "set", cif, "up", ns=cli)
    sh("ip", "-6", "route", "add", "fd79::/64", "dev", cif, ns=cli)
    assert wait_for(lambda: ping(cli, "fd79::1"))

    pool = d.call("POST", "/ipv6/pools", json={"name": "customers", "prefix": "2001:db8:4200::/48",
                                               "prefix_length": 64})
    assert pool.status_code == 201, pool.text
    alloc = d.call("POST", "/ipv6/allocations", json={"pool_id": pool.json()["data"]["id"], "auto_assign": True,
                                                      "client_id": client["id"], "client_name": "router"})
    assert alloc.status_code == 201, alloc.text
    prefix = alloc.json()["data"]["allocated_prefix"]
    assert prefix.endswith("/64")
    net = prefix.split("/")[0]
    host = net + ("1" if net.endswith("::") else "::1")

    # the server routes the /64 into the tunnel and the peer accepts it
    assert wait_for(lambda: prefix in sh("wg", "show", iface, "allowed-ips", ns=srv).stdout), d.text()[-1500:]
    assert wait_for(lambda: prefix in sh("ip", "-6", "route", "show", ns=srv).stdout)
    # the client side configures an address inside its delegated prefix
    sh("ip", "-6", "addr", "add", host + "/64", "dev", cif, "nodad", ns=cli)
    assert wait_for(lambda: ping(srv, host)), "ping into the delegated /64 did not cross the tunnel"

    # releasing withdraws AllowedIPs and the route
    assert d.call("DELETE", "/ipv6/allocations/%s" % alloc.json()["data"]["id"]).status_code == 200
    assert wait_for(lambda: prefix not in sh("wg", "show", iface, "allowed-ips", ns=srv).stdout)
    assert wait_for(lambda: prefix not in sh("ip", "-6", "route", "show", ns=srv).stdout)
    assert not ping(srv, host, count=2)
