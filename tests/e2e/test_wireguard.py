"""WireGuard end to end: wgmd manages a server through wireguard-go in one
namespace; a client is created through the API and its config applied in
the other namespace as a person would (wg setconf of the stripped config
plus addresses); pings cross the tunnel over IPv4 and IPv6; the API's status
shows the handshake and traffic; disabling stops the traffic; deleting
removes the peer from the device."""
import os
import re
import subprocess
import time

from conftest import sh


def strip_wg_quick(config):
    """What `wg-quick strip` does: drop the keys wg(8) does not know."""
    keep = []
    for line in config.splitlines():
        key = line.split("=", 1)[0].strip()
        if key in ("Address", "DNS", "MTU", "Table", "PreUp", "PostUp", "PreDown", "PostDown", "SaveConfig"):
            continue
        keep.append(line)
    return "\n".join(keep) + "\n"


def ping(ns, addr, count=3):
    return sh("ping", "-6" if ":" in addr else "-4", "-c", str(count), "-W", "2", "-i", "0.3", addr, ns=ns,
              check=False, timeout=20).returncode == 0


def wait_for(fn, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    return fn()


def test_tunnel_end_to_end(topology, wgmd_in, tmp_path):
    srv, cli, tag = topology["srv"], topology["cli"], topology["tag"]
    d = wgmd_in(srv)
    iface = "wgs" + tag
    r = d.call("POST", "/wireguard/servers", json={
        "name": "e2e", "interface": iface, "listen_port": 51820, "ipv4_address": "10.77.0.1/24",
        "ipv6_address": "fd77::1/64", "endpoint": "198.18.0.1", "dns_servers": ["10.77.0.1"], "auto_start": True})
    assert r.status_code == 201, r.text
    server = r.json()["data"]
    assert server["status"] == "running", server
    shown = sh("wg", "show", iface, "dump", ns=srv).stdout.splitlines()
    assert shown[0].split("\t")[1] == server["public_key"] and shown[0].split("\t")[2] == "51820"

    r = d.call("POST", "/wireguard/clients", json={"name": "laptop", "server_id": server["id"], "auto_assign_ip": True,
                                                    "persistent_keepalive": 1})
    assert r.status_code == 201, r.text
    client = r.json()["data"]
    assert client["ipv4_address"] == "10.77.0.2/32" and client["ipv6_address"] == "fd77::2/128"
    config = client["config"]
    assert "Endpoint = 198.18.0.1:51820" in config and client["qr_code"].startswith("data:image/png;base64,")
    assert d.call("GET", "/wireguard/clients/%d/config" % client["id"]).text == config

    # the client side, as a person would set it up
    cif = "wgc" + tag
    conf_path = os.path.join(str(tmp_path), "client.conf")
    with open(conf_path, "w") as f:
        f.write(strip_wg_quick(config))
    sh("wireguard-go", cif, ns=cli)
    sh("wg", "setconf", cif, conf_path, ns=cli)
    sh("ip", "addr", "add", "10.77.0.2/32", "dev", cif, ns=cli)
    sh("ip", "-6", "addr", "add", "fd77::2/128", "dev", cif, "nodad", ns=cli)
    sh("ip", "link", "set", cif, "up", ns=cli)
    sh("ip", "route", "add", "10.77.0.0/24", "dev", cif, ns=cli)
    sh("ip", "-6", "route", "add", "fd77::/64", "dev", cif, ns=cli)

    assert wait_for(lambda: ping(cli, "10.77.0.1")), "IPv4 ping over the tunnel failed"
    assert wait_for(lambda: ping(cli, "fd77::1")), "IPv6 ping over the tunnel failed"

    status = d.call("GET", "/wireguard/servers/%d/status" % server["id"]).json()["data"]
    peer = [c for c in status["clients"] if c["public_key"] == client["public_key"]][0]
    assert peer["client_id"] == client["id"] and peer["latest_handshake"] is not None
    assert peer["transfer_rx"] > 0 and peer["transfer_tx"] > 0
    assert peer["endpoint"].startswith("198.18.0.2:")
    assert status["interface_stats"]["rx_packets"] > 0

    # totals come from the device and survive a counter reset: restarting the
    # server restarts wireguard-go, whose counters start again from zero
    def totals():
        c = d.call("GET", "/wireguard/clients/%d" % client["id"]).json()["data"]
        return c["bytes_received"], c["bytes_sent"], c["last_handshake"]
    before = wait_for(lambda: (lambda t: t if t[0] > 0 and t[2] else None)(totals()))
    assert before, totals()
    assert d.call("POST", "/wireguard/servers/%d/stop" % server["id"]).json()["data"]["status"] == "stopped"
    assert sh("ip", "link", "show", iface, ns=srv, check=False).returncode != 0
    assert d.call("POST", "/wireguard/servers/%d/start" % server["id"]).json()["data"]["status"] == "running"
    assert wait_for(lambda: ping(cli, "10.77.0.1"))
    after = wait_for(lambda: (lambda t: t if t[0] > before[0] else None)(totals()))
    assert after and after[0] > before[0], (before, totals())

    # disabling removes the peer from the device: traffic stops
    assert d.call("POST", "/wireguard/clients/%d/disable" % client["id"]).json()["data"]["status"] == "disabled"
    assert client["public_key"] not in sh("wg", "show", iface, "peers", ns=srv).stdout
    assert not ping(cli, "10.77.0.1", count=2)
    # enabling brings it back without restarting the interface
    assert d.call("POST", "/wireguard/clients/%d/enable" % client["id"]).status_code == 200
    assert wait_for(lambda: ping(cli, "10.77.0.1"))

    # deleting removes the peer
    assert d.call("DELETE", "/wireguard/clients/%d" % client["id"]).status_code == 200
    assert sh("wg", "show", iface, "peers", ns=srv).stdout.strip() == ""
    assert not ping(cli, "10.77.0.1", count=2)


def test_reconcile_recreates_a_vanished_interface(topology, wgmd_in):
    srv, tag = topology["srv"], topology["tag"]
    d = wgmd_in(srv)
    iface = "wgr" + tag
    s = d.call("POST", "/wireguard/servers", json={"name": "r", "interface": iface, "listen_port": 51830,
                                                  "ipv4_address": "10.78.0.1/24", "auto_start": True}).json()["data"]
    c = d.call("POST", "/wireguard/clients", json={"name": "a", "server_id": s["id"]}).json()["data"]
    sh("ip", "link", "del", iface, ns=srv)  # someone removed it by hand
    peers = wait_for(lambda: c["public_key"] in sh("wg", "show", iface, "peers", ns=srv, check=False).stdout,
                     timeout=20)
    assert peers, d.text()[-2000:]
    # the public key survives key rotation only by changing: the id stays
    r = d.call("POST", "/wireguard/clients/%d/rotate-keys" % c["id"]).json()["data"]
    assert r["id"] == c["id"] and r["public_key"] != c["public_key"]
    out = sh("wg", "show", iface, "peers", ns=srv).stdout
    assert r["public_key"] in out and c["public_key"] not in out
