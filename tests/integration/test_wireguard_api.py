"""/wireguard/servers and /wireguard/clients on a real wgmd with wireguard.so:
validation naming the field, 404s, conflicts, address assignment (explicit,
automatic, reuse, full subnets), the wg-quick config and its QR code,
enable/disable, key rotation, expiry and who sees private keys.

Servers are created without auto_start, so no interface exists, except in
test_start_stop_real_interface, which runs one wireguard-go interface in the
current namespace under a unique name and removes it again.  Every interface
name is unique to the run even for stopped servers: reconciling a stopped
server deletes a WireGuard interface of its name if one exists, and these
tests share the machine's namespace."""
import base64
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import PREFIX, assert_error
from test_auth import STRONG, make_user

PLUGIN = os.path.join(PREFIX, "lib", "wgm", "plugins", "wireguard.so")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUN = os.urandom(3).hex()
WG0 = "wgt0" + RUN  # the default server's name and interface
WG1 = "wgt1" + RUN
DEFAULT_SERVER = {"name": WG0, "listen_port": 51820, "ipv4_address": "10.10.0.1/24", "ipv6_address": "fd10::1/64"}

pytestmark = pytest.mark.skipif(not os.path.exists(PLUGIN), reason="wireguard.so is not installed in " + PREFIX)


# Servers without an endpoint of their own get this one, so configs do not
# depend on this machine's addresses (test_endpoint_* cover detection).
PUBLIC = {"50-wireguard.conf": "[wireguard]\npublic_endpoint = vpn.example.net\n"}


@pytest.fixture
def env(daemons):
    d = daemons(plugins=[PLUGIN], dropins=PUBLIC)
    return d, d.login()


@pytest.fixture
def srv(env):
    """A daemon, an admin token and one stopped dual-stack server."""
    d, admin = env
    return d, admin, mk_server(d, admin)


def unique_ifname():
    return "wgt" + os.urandom(4).hex()


def mk_server(d, tok, **kw):
    """Create a server; one given a name of its own but no interface gets
    a unique interface name."""
    if "name" in kw and "interface" not in kw:
        kw["interface"] = unique_ifname()
    body = dict(DEFAULT_SERVER)
    body.update(kw)
    body = {k: v for k, v in body.items() if v is not None}
    r = d.call("POST", "/wireguard/servers", token=tok, json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def mk_client(d, tok, server_id, name="c1", **kw):
    body = {"name": name, "server_id": server_id}
    body.update(kw)
    r = d.call("POST", "/wireguard/clients", token=tok, json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def post_client(d, tok, server_id, name="c1", **kw):
    body = {"name": name, "server_id": server_id}
    body.update(kw)
    return d.call("POST", "/wireguard/clients", token=tok, json=body)


def expect(missing):
    """(status, code) of a refused body: absent required fields are 400."""
    return (400, "MISSING_PARAMETER") if missing else (422, "VALIDATION_ERROR")


def config_lines(config):
    return [line.strip() for line in config.splitlines()]


def utc(offset):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


# --------------------------------------------------------------- servers --

def test_server_create_shape(env):
    d, admin = env
    s = mk_server(d, admin, endpoint="vpn.example.com", description="office", dns_servers=["10.10.0.1", "fd10::1"],
                  mtu=1380, persistent_keepalive=15, allowed_ips=["10.10.0.0/24", "fd10::/64"])
    assert s["name"] == WG0 and s["interface"] == WG0  # the interface defaults to the name
    assert s["listen_port"] == 51820 and s["ipv4_address"] == "10.10.0.1/24" and s["ipv6_address"] == "fd10::1/64"
    assert s["endpoint"] == "vpn.example.com" and s["description"] == "office"
    assert s["status"] == "stopped" and s["clients_count"] == 0
    assert s["bytes_received"] == 0 and s["bytes_sent"] == 0
    assert len(base64.b64decode(s["public_key"])) == 32 and len(base64.b64decode(s["private_key"])) == 32
    assert s["config"] == {"dns_servers": ["10.10.0.1", "fd10::1"], "mtu": 1380, "persistent_keepalive": 15,
                           "allowed_ips": ["10.10.0.0/24", "fd10::/64"]}
    assert re.fullmatch(TIMESTAMP, s["created_at"]) and re.fullmatch(TIMESTAMP, s["updated_at"])
    got = d.call("GET", "/wireguard/servers/%d" % s["id"], token=admin).json()["data"]
    assert got == s


def test_server_defaults(env):
    d, admin = env
    s = mk_server(d, admin, ipv6_address=None)
    assert s["ipv6_address"] is None and s["endpoint"] is None and s["description"] is None
    assert s["config"] == {"dns_servers": [], "mtu": 1420, "persistent_keepalive": 25,
                           "allowed_ips": ["0.0.0.0/0", "::/0"]}
    s6 = mk_server(d, admin, name="v6only", listen_port=51821, ipv4_address=None, ipv6_address="fd20::1/64")
    assert s6["ipv4_address"] is None and s6["ipv6_address"] == "fd20::1/64"


def test_server_has_spec_fields(env):
    """The spec's server model lists last_handshake (null while nothing
    has shaken hands)."""
    d, admin = env
    s = mk_server(d, admin)
    for field in ("id", "name", "interface", "listen_port", "ipv4_address", "ipv6_address", "public_key",
                  "private_key", "status", "clients_count", "bytes_received", "bytes_sent", "last_handshake",
                  "created_at", "updated_at", "config", "endpoint", "description"):
        assert field in s, field


@pytest.mark.parametrize("patch,field", [
    ({"name": None}, "name"),
    ({"listen_port": None}, "listen_port"),
    ({"name": 5}, "name"),
    ({"name": ""}, "name"),
    ({"name": "bad name"}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"name": "a-very-long-name-0"}, "interface"),  # 18 chars: no interface name can be derived
    ({"interface": "x" * 16}, "interface"),
    ({"interface": ""}, "interface"),
    ({"interface": "wg 0"}, "interface"),
    ({"interface": "wg/0"}, "interface"),
    ({"interface": "wg:0"}, "interface"),
    ({"interface": "wg\u00e90"}, "interface"),
    ({"interface": ".."}, "interface"),
    ({"interface": 0}, "interface"),
    ({"listen_port": 0}, "listen_port"),
    ({"listen_port": -1}, "listen_port"),
    ({"listen_port": 65536}, "listen_port"),
    ({"listen_port": "51820"}, "listen_port"),
    ({"listen_port": 51820.5}, "listen_port"),
    ({"listen_port": True}, "listen_port"),
    ({"ipv4_address": "10.10.0.1"}, "ipv4_address"),
    ({"ipv4_address": "10.10.0.1/33"}, "ipv4_address"),
    ({"ipv4_address": "10.10.0.1/31"}, "ipv4_address"),
    ({"ipv4_address": "10.10.0.1/"}, "ipv4_address"),
    ({"ipv4_address": "10.10.0.1/-8"}, "ipv4_address"),
    ({"ipv4_address": "10.10.0.0/24"}, "ipv4_address"),  # the network address
    ({"ipv4_address": "10.10.0.255/24"}, "ipv4_address"),  # the broadcast address
    ({"ipv4_address": "10.10.300.1/24"}, "ipv4_address"),
    ({"ipv4_address": "fd10::1/64"}, "ipv4_address"),
    ({"ipv4_address": 167772161}, "ipv4_address"),
    ({"ipv6_address": "fd10::1"}, "ipv6_address"),
    ({"ipv6_address": "fd10::1/127"}, "ipv6_address"),
    ({"ipv6_address": "fd10::1/129"}, "ipv6_address"),
    ({"ipv6_address": "fd10::/64"}, "ipv6_address"),
    ({"ipv6_address": "fd10::g/64"}, "ipv6_address"),
    ({"ipv6_address": "10.10.0.1/24"}, "ipv6_address"),
    ({"ipv6_address": ["fd10::1/64"]}, "ipv6_address"),
    ({"ipv4_address": None, "ipv6_address": None}, "ipv4_address"),
    ({"dns_servers": "8.8.8.8"}, "dns_servers"),
    ({"dns_servers": ["8.8.8.8", "dns.example.com"]}, "dns_servers"),
    ({"dns_servers": ["8.8.8.8/32"]}, "dns_servers"),
    ({"dns_servers": ["2001:4860:4860::88888"]}, "dns_servers"),
    ({"dns_servers": [""]}, "dns_servers"),
    ({"dns_servers": [8]}, "dns_servers"),
    ({"dns_servers": ["1.1.1.1"] * 9}, "dns_servers"),
    ({"mtu": 1279}, "mtu"),
    ({"mtu": 9001}, "mtu"),
    ({"mtu": "1420"}, "mtu"),
    ({"persistent_keepalive": -1}, "persistent_keepalive"),
    ({"persistent_keepalive": 65536}, "persistent_keepalive"),
    ({"persistent_keepalive": "25"}, "persistent_keepalive"),
    ({"allowed_ips": "0.0.0.0/0"}, "allowed_ips"),
    ({"allowed_ips": ["0.0.0.0"]}, "allowed_ips"),
    ({"allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
    ({"allowed_ips": ["::/129"]}, "allowed_ips"),
    ({"allowed_ips": ["10.0.0.0/8", "nope/8"]}, "allowed_ips"),
    ({"endpoint": ""}, "endpoint"),
    ({"endpoint": "vpn example.com"}, "endpoint"),
    ({"endpoint": "x" * 256}, "endpoint"),
    ({"description": "x" * 501}, "description"),
    ({"description": 7}, "description"),
    ({"auto_start": "yes"}, "auto_start"),
    ({"private_key": "x"}, "private_key"),
    ({"status": "running"}, "status"),
    ({"colour": "blue"}, "colour"),
])
def test_server_create_bad_input(env, patch, field):
    d, admin = env
    body = dict(DEFAULT_SERVER)
    body.update(patch)
    body = {k: v for k, v in body.items() if v is not None}
    # An absent required field is 400 MISSING_PARAMETER; a bad value 422.
    missing = any(v is None for v in patch.values())
    err = assert_error(d.call("POST", "/wireguard/servers", token=admin, json=body), *expect(missing))
    assert field in err["details"], err
    assert d.call("GET", "/wireguard/servers", token=admin).json()["data"]["pagination"]["total"] == 0


def test_server_create_body_not_an_object(env):
    d, admin = env
    for kw, missing in (({"json": [DEFAULT_SERVER]}, False), ({}, True)):
        err = assert_error(d.call("POST", "/wireguard/servers", token=admin, **kw), *expect(missing))
        assert "body" in err["details"], err
    # JSON that is not an array or object, or not JSON at all, is the core's 400
    for raw in ('"wg0"', "1", "{bad"):
        assert_error(d.call("POST", "/wireguard/servers", token=admin, data=raw,
                            headers={"Content-Type": "application/json"}), 400, "BAD_REQUEST")


@pytest.mark.parametrize("ok", [
    {"interface": "w-=+_." + RUN},
    {"interface": ("x" * 15 + RUN)[-15:]},
    {"name": "x" * 64, "interface": "wgx" + RUN},
    {"listen_port": 1},
    {"listen_port": 65535},
    {"ipv4_address": "10.10.0.1/30"},
    {"ipv4_address": "10.10.0.1/8"},
    {"ipv6_address": "fd10::1/126"},
    {"ipv6_address": "fd10::1/48"},
    {"mtu": 1280},
    {"mtu": 9000},
    {"persistent_keepalive": 0},
    {"persistent_keepalive": 65535},
    {"dns_servers": ["1.1.1.1"] * 8},
    {"endpoint": "[2001:db8::1]:51820"},
])
def test_server_create_edge_values(env, ok):
    d, admin = env
    s = mk_server(d, admin, **ok)
    for k, v in ok.items():
        assert (s["config"][k] if k in s["config"] else s[k]) == v


@pytest.mark.parametrize("query,field", [
    ("page=0", "page"), ("page=x", "page"), ("page=-1", "page"), ("size=0", "size"), ("size=101", "size"),
    ("size=ten", "size"), ("status=up", "status"), ("status=RUNNING", "status"), ("sort=private_key", "sort"),
    ("sort=name;drop", "sort"), ("order=up", "order"), ("search=" + "x" * 101, "search"),
])
def test_server_list_bad_query(env, query, field):
    d, admin = env
    err = assert_error(d.call("GET", "/wireguard/servers?" + query, token=admin), 422, "VALIDATION_ERROR")
    assert field in err["details"], err


def test_server_list_filters_sort_and_pagination(env):
    d, admin = env
    for i, (name, port) in enumerate((("alpha", 51822), ("beta", 51820), ("gamma", 51821))):
        mk_server(d, admin, name=name, listen_port=port, ipv4_address="10.%d.0.1/24" % (20 + i), ipv6_address=None,
                  description="site " + name)

    def names(query):
        r = d.call("GET", "/wireguard/servers?" + query, token=admin)
        assert r.status_code == 200, r.text
        return [s["name"] for s in r.json()["data"]["servers"]]

    assert names("") == ["alpha", "beta", "gamma"]  # by id
    assert names("sort=listen_port") == ["beta", "gamma", "alpha"]
    assert names("sort=listen_port&order=desc") == ["alpha", "gamma", "beta"]
    assert names("sort=name&order=desc") == ["gamma", "beta", "alpha"]
    assert names("search=et") == ["beta"]
    assert names("search=site%20gam") == ["gamma"]  # the description counts
    assert names("search=%25") == [] and names("search=_") == []  # LIKE wildcards are literal
    assert names("status=stopped") == ["alpha", "beta", "gamma"]
    assert names("status=running") == [] and names("status=error") == []
    data = d.call("GET", "/wireguard/servers?page=2&size=2&sort=name", token=admin).json()["data"]
    assert [s["name"] for s in data["servers"]] == ["gamma"]
    assert data["pagination"] == {"page": 2, "size": 2, "total": 3, "pages": 2, "has_next": False, "has_prev": True}
    data = d.call("GET", "/wireguard/servers?page=9", token=admin).json()["data"]
    assert data["servers"] == [] and data["pagination"]["total"] == 3
    data = d.call("GET", "/wireguard/servers", token=admin).json()["data"]
    assert data["pagination"]["page"] == 1 and data["pagination"]["size"] == 20


def test_server_list_order_applies_to_default_sort(env):
    """?order=desc without ?sort reverses the default order (by id)."""
    d, admin = env
    mk_server(d, admin, name="first", listen_port=51820)
    mk_server(d, admin, name="second", listen_port=51821, ipv4_address="10.11.0.1/24", ipv6_address=None)
    servers = d.call("GET", "/wireguard/servers?order=desc", token=admin).json()["data"]["servers"]
    assert [s["name"] for s in servers] == ["second", "first"]


NOT_FOUND_IDS = ["424242", "abc", "0", "-1", "1.0", "1e3", "99999999999999999999"]


@pytest.mark.parametrize("sid", NOT_FOUND_IDS)
def test_server_not_found(srv, sid):
    d, admin, _ = srv
    for method, path, body in (("GET", "", None), ("PUT", "", {"description": "x"}), ("DELETE", "", None),
                               ("DELETE", "?force=true", None), ("POST", "/start", None), ("POST", "/stop", None),
                               ("GET", "/status", None)):
        r = d.call(method, "/wireguard/servers/" + sid + path, token=admin, json=body)
        assert_error(r, 404, "RESOURCE_NOT_FOUND")
    assert d.call("GET", "/wireguard/servers", token=admin).json()["data"]["pagination"]["total"] == 1


def test_server_duplicates_conflict(srv):
    d, admin, s = srv
    other = {"name": WG1, "interface": WG1, "listen_port": 51821, "ipv4_address": "10.11.0.1/24"}
    for patch, field in (({"name": WG0}, "name"), ({"interface": WG0}, "interface"),
                         ({"listen_port": 51820}, "listen_port")):
        body = dict(other)
        body.update(patch)
        err = assert_error(d.call("POST", "/wireguard/servers", token=admin, json=body), 409, "RESOURCE_ALREADY_EXISTS")
        assert field in err["details"], err
    s1 = mk_server(d, admin, **other)
    assert s1["interface"] == WG1
    # updates hit the same rules
    path = "/wireguard/servers/%d" % s1["id"]
    err = assert_error(d.call("PUT", path, token=admin, json={"name": WG0}), 409, "RESOURCE_ALREADY_EXISTS")
    assert "name" in err["details"], err
    err = assert_error(d.call("PUT", path, token=admin, json={"listen_port": 51820}), 409, "RESOURCE_ALREADY_EXISTS")
    assert "listen_port" in err["details"], err
    # keeping one's own values is no conflict
    r = d.call("PUT", path, token=admin, json={"name": WG1, "listen_port": 51821})
    assert r.status_code == 200, r.text
    assert d.call("GET", "/wireguard/servers", token=admin).json()["data"]["pagination"]["total"] == 2


def test_server_update(srv):
    d, admin, s = srv
    path = "/wireguard/servers/%d" % s["id"]
    r = d.call("PUT", path, token=admin, json={"name": "office", "listen_port": 51900, "description": "hq",
                                               "endpoint": "vpn.example.com:51900", "dns_servers": ["9.9.9.9"],
                                               "mtu": 1400, "persistent_keepalive": 0, "allowed_ips": ["10.0.0.0/8"]})
    assert r.status_code == 200, r.text
    u = r.json()["data"]
    assert u["id"] == s["id"] and u["name"] == "office" and u["listen_port"] == 51900
    assert u["interface"] == WG0 and u["public_key"] == s["public_key"]
    assert u["description"] == "hq" and u["endpoint"] == "vpn.example.com:51900"
    assert u["config"] == {"dns_servers": ["9.9.9.9"], "mtu": 1400, "persistent_keepalive": 0,
                           "allowed_ips": ["10.0.0.0/8"]}
    assert d.call("GET", path, token=admin).json()["data"] == u
    # a partial update leaves the rest alone
    u2 = d.call("PUT", path, token=admin, json={"description": "hq2"}).json()["data"]
    assert u2["description"] == "hq2" and u2["config"] == u["config"] and u2["listen_port"] == 51900


@pytest.mark.parametrize("body,field", [
    ({"interface": "wg9"}, "interface"),
    ({"auto_start": True}, "auto_start"),
    ({"public_key": "x"}, "public_key"),
    ({"name": ""}, "name"),
    ({"name": "no spaces"}, "name"),
    ({"listen_port": 0}, "listen_port"),
    ({"listen_port": 70000}, "listen_port"),
    ({"mtu": 100}, "mtu"),
    ({"persistent_keepalive": 100000}, "persistent_keepalive"),
    ({"ipv4_address": "10.10.0.1/32"}, "ipv4_address"),
    ({"ipv6_address": "fd10::1/200"}, "ipv6_address"),
    ({"dns_servers": ["x"]}, "dns_servers"),
    ({"allowed_ips": ["10.0.0.0"]}, "allowed_ips"),
    ({"endpoint": "a b"}, "endpoint"),
])
def test_server_update_bad_input(srv, body, field):
    d, admin, s = srv
    path = "/wireguard/servers/%d" % s["id"]
    err = assert_error(d.call("PUT", path, token=admin, json=body), 422, "VALIDATION_ERROR")
    assert field in err["details"], err
    assert d.call("GET", path, token=admin).json()["data"] == s


def test_server_update_body_not_an_object(srv):
    d, admin, s = srv
    err = assert_error(d.call("PUT", "/wireguard/servers/%d" % s["id"], token=admin, json=[1]), 422,
                       "VALIDATION_ERROR")
    assert "body" in err["details"], err


def test_server_update_null_leaves_values(srv):
    d, admin, s = srv
    path = "/wireguard/servers/%d" % s["id"]
    r = d.call("PUT", path, token=admin, json={"mtu": 1380, "persistent_keepalive": 7, "description": "keep"})
    assert r.status_code == 200, r.text
    r = d.call("PUT", path, token=admin, json={"mtu": None, "persistent_keepalive": None, "description": None})
    assert r.status_code == 200, r.text
    got = r.json()["data"]
    assert got["description"] == "keep"
    assert got["config"]["mtu"] == 1380 and got["config"]["persistent_keepalive"] == 7, got["config"]


def test_server_subnet_is_locked_while_clients_exist(srv):
    d, admin, s = srv
    path = "/wireguard/servers/%d" % s["id"]
    c = mk_client(d, admin, s["id"])
    for body, field in (({"ipv4_address": "10.99.0.1/24"}, "ipv4_address"),
                        ({"ipv6_address": "fd99::1/64"}, "ipv6_address")):
        err = assert_error(d.call("PUT", path, token=admin, json=body), 409, "RESOURCE_CONFLICT")
        assert field in err["details"], err
    assert d.call("DELETE", "/wireguard/clients/%d" % c["id"], token=admin).status_code == 200
    r = d.call("PUT", path, token=admin, json={"ipv4_address": "10.99.0.1/24"})
    assert r.status_code == 200 and r.json()["data"]["ipv4_address"] == "10.99.0.1/24", r.text


def test_server_delete(srv):
    d, admin, s = srv
    path = "/wireguard/servers/%d" % s["id"]
    err = assert_error(d.call("DELETE", path + "?force=yes", token=admin), 422, "VALIDATION_ERROR")
    assert "force" in err["details"]
    r = d.call("DELETE", path, token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == s["id"] and r.json()["data"]["deleted"] is True
    assert_error(d.call("GET", path, token=admin), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("DELETE", path, token=admin), 404, "RESOURCE_NOT_FOUND")
    # name, interface and port are free again
    assert mk_server(d, admin)["id"] != s["id"]


def test_server_delete_with_clients_needs_force(srv):
    d, admin, s = srv
    path = "/wireguard/servers/%d" % s["id"]
    c1, c2 = mk_client(d, admin, s["id"], "c1"), mk_client(d, admin, s["id"], "c2")
    other = mk_server(d, admin, name=WG1, listen_port=51821, ipv4_address="10.11.0.1/24", ipv6_address=None)
    keep = mk_client(d, admin, other["id"], "keep")
    assert d.call("GET", path, token=admin).json()["data"]["clients_count"] == 2
    for q in ("", "?force=false"):
        err = assert_error(d.call("DELETE", path + q, token=admin), 409, "RESOURCE_CONFLICT")
        assert err["details"]["clients_count"] == 2
    assert d.call("GET", "/wireguard/clients/%d" % c1["id"], token=admin).status_code == 200
    r = d.call("DELETE", path + "?force=true", token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["clients_deleted"] == 2
    for c in (c1, c2):
        assert_error(d.call("GET", "/wireguard/clients/%d" % c["id"], token=admin), 404, "RESOURCE_NOT_FOUND")
    listed = d.call("GET", "/wireguard/clients", token=admin).json()["data"]
    assert [c["id"] for c in listed["clients"]] == [keep["id"]]
    assert_error(d.call("GET", path, token=admin), 404, "RESOURCE_NOT_FOUND")


def test_stop_and_status_of_a_stopped_server(srv):
    d, admin, s = srv
    path = "/wireguard/servers/%d" % s["id"]
    r = d.call("POST", path + "/stop", token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["id"] == s["id"] and r.json()["data"]["status"] == "stopped"
    st = d.call("GET", path + "/status", token=admin).json()["data"]
    assert st["id"] == s["id"] and st["name"] == WG0 and st["status"] == "stopped"
    assert st["uptime"] == 0 and st["clients"] == []
    assert st["interface_stats"] == {"rx_bytes": 0, "tx_bytes": 0, "rx_packets": 0, "tx_packets": 0}


def _can_run_interfaces():
    return os.geteuid() == 0 and shutil.which("wireguard-go") and os.path.exists("/dev/net/tun")


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def _link_exists(name):
    return subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_run_interfaces(), reason="needs root, /dev/net/tun and wireguard-go")
def test_start_stop_real_interface(env):
    """The one test with a device: wireguard-go in this namespace."""
    d, admin = env
    iface = "wgt" + os.urandom(4).hex()
    port = _free_udp_port()
    s = mk_server(d, admin, name=iface, interface=iface, listen_port=port, ipv4_address="10.201.0.1/30",
                  ipv6_address="fd77:201::1/126", auto_start=True)
    path = "/wireguard/servers/%d" % s["id"]
    try:
        assert s["status"] == "running", s
        assert _link_exists(iface)
        c = mk_client(d, admin, s["id"])
        st = d.call("GET", path + "/status", token=admin).json()["data"]
        assert st["status"] == "running" and st["listen_port"] == port
        peers = [p for p in st["clients"] if p["public_key"] == c["public_key"]]
        assert len(peers) == 1 and peers[0]["client_id"] == c["id"], st
        # the spec's string, as wg prints it, and the list beside it
        assert sorted(peers[0]["allowed_ips_list"]) == sorted([c["ipv4_address"], c["ipv6_address"]])
        assert peers[0]["allowed_ips"] == ", ".join(peers[0]["allowed_ips_list"])
        assert st["interface_stats"]["rx_packets"] is not None and st["interface_stats"]["tx_bytes"] is not None

        # /system/info names the backend and the process serving this interface
        info = d.call("GET", "/system/info", token=admin).json()["data"]
        wgsvc = info["services"]["wireguard"]
        assert wgsvc["backend"] == "wireguard-go" and wgsvc["status"] == "running", wgsvc
        version = subprocess.run(["wireguard-go", "--version"], capture_output=True, text=True).stdout.split()[1]
        assert wgsvc["version"] == version.lstrip("v")
        ifs = [i for i in wgsvc["interfaces"] if i["interface"] == iface]
        assert len(ifs) == 1 and isinstance(ifs[0]["pid"], int), wgsvc
        pid = ifs[0]["pid"]
        with open("/proc/%d/comm" % pid) as f:
            assert f.read().strip() == "wireguard-go"
        # wgmd runs with WGM_ADMIN_PASSWORD (and database settings) set; its
        # tunnel process gets none of them
        assert "WGM_ADMIN_PASSWORD" in d.env
        with open("/proc/%d/environ" % pid, "rb") as f:
            environ = [e.decode() for e in f.read().split(b"\0") if e]
        assert environ and not [e for e in environ if e.startswith("WGM_")], environ
        assert not [e for e in environ if "sqlite:" in e or "mysql:" in e or "redis:" in e], environ
        assert d.call("GET", "/wireguard/servers?status=running", token=admin).json()["data"]["pagination"]["total"] == 1

        r = d.call("POST", path + "/stop", token=admin)
        assert r.status_code == 200 and r.json()["data"]["status"] == "stopped", r.text
        assert d.call("GET", path, token=admin).json()["data"]["status"] == "stopped"
        assert d.call("GET", path + "/status", token=admin).json()["data"]["status"] == "stopped"
        deadline = time.time() + 5
        while _link_exists(iface) and time.time() < deadline:
            time.sleep(0.1)
        assert not _link_exists(iface)

        r = d.call("POST", path + "/start", token=admin, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["status"] == "running" and data["started_at"] is not None
        assert r.json()["message"] == "服务器启动成功", r.text
        assert isinstance(data["pid"], int)
        with open("/proc/%d/comm" % data["pid"]) as f:
            assert f.read().strip() == "wireguard-go"
        assert d.call("GET", path, token=admin).json()["data"]["status"] == "running"
        assert _link_exists(iface)

        # the link goes away under a server meant to run: its counters are
        # unknown (null), not 0
        subprocess.run(["ip", "link", "del", "dev", iface], check=True, capture_output=True)
        got = d.call("GET", path, token=admin).json()["data"]
        assert got["status"] == "error", got
        assert got["bytes_received"] is None and got["bytes_sent"] is None, got
        st = d.call("GET", path + "/status", token=admin).json()["data"]
        assert st["interface_stats"] == {"rx_bytes": None, "tx_bytes": None, "rx_packets": None,
                                         "tx_packets": None}, st
    finally:
        d.call("DELETE", path + "?force=true", token=admin)
        deadline = time.time() + 5
        while _link_exists(iface) and time.time() < deadline:
            time.sleep(0.1)
        if _link_exists(iface):
            subprocess.run(["ip", "link", "del", "dev", iface], capture_output=True)
            pytest.fail("deleting the server left interface %s behind" % iface)


# --------------------------------------------------------------- clients --

def test_client_create_shape(env):
    d, admin = env
    s = mk_server(d, admin, endpoint="vpn.example.com", dns_servers=["10.10.0.1"], persistent_keepalive=21)
    c = mk_client(d, admin, s["id"], "laptop", description="alice's laptop")
    assert c["name"] == "laptop" and c["server_id"] == s["id"] and c["description"] == "alice's laptop"
    assert c["ipv4_address"] == "10.10.0.2/32" and c["ipv6_address"] == "fd10::2/128"
    assert c["status"] == "active" and c["enabled"] is True and c["expires_at"] is None
    assert c["allowed_ips"] == ["0.0.0.0/0", "::/0"]
    assert c["dns_servers"] == ["10.10.0.1"]  # the server's, unless given
    assert c["persistent_keepalive"] == 21  # likewise
    assert len(base64.b64decode(c["public_key"])) == 32 and len(base64.b64decode(c["private_key"])) == 32
    assert c["has_preshared_key"] is True
    lines = config_lines(c["config"])
    assert lines[0] == "[Interface]" and "[Peer]" in lines
    assert "PrivateKey = " + c["private_key"] in lines
    assert "Address = 10.10.0.2/32, fd10::2/128" in lines
    assert "DNS = 10.10.0.1" in lines
    assert "PublicKey = " + s["public_key"] in lines
    assert "PresharedKey = " + c["preshared_key"] in lines
    assert "Endpoint = vpn.example.com:51820" in lines
    assert "AllowedIPs = 0.0.0.0/0, ::/0" in lines
    assert "PersistentKeepalive = 21" in lines
    prefix = "data:image/png;base64,"
    assert c["qr_code"].startswith(prefix)
    assert base64.b64decode(c["qr_code"][len(prefix):]).startswith(PNG_SIGNATURE)
    got = d.call("GET", "/wireguard/clients/%d" % c["id"], token=admin).json()["data"]
    assert "config" not in got and "qr_code" not in got
    assert got == {k: v for k, v in c.items() if k not in ("config", "qr_code")}
    assert d.call("GET", "/wireguard/servers/%d" % s["id"], token=admin).json()["data"]["clients_count"] == 1


def test_client_has_spec_fields(srv):
    """The spec's client object: traffic counters and last_handshake too."""
    d, admin, s = srv
    c = mk_client(d, admin, s["id"])
    for field in ("id", "name", "server_id", "ipv4_address", "ipv6_address", "public_key", "private_key", "status",
                  "last_handshake", "bytes_received", "bytes_sent", "allowed_ips", "dns_servers",
                  "persistent_keepalive", "created_at", "updated_at", "config", "qr_code"):
        assert field in c, field
    assert c["last_handshake"] is None and c["bytes_received"] == 0 and c["bytes_sent"] == 0


def test_client_explicit_options(srv):
    d, admin, s = srv
    c = mk_client(d, admin, s["id"], "phone", ipv4_address="10.10.0.77/32", ipv6_address="fd10::77/128",
                  allowed_ips=["10.10.0.0/24"], dns_servers=["1.1.1.1", "2606:4700:4700::1111"],
                  persistent_keepalive=0, enabled=False)
    assert c["ipv4_address"] == "10.10.0.77/32" and c["ipv6_address"] == "fd10::77/128"
    assert c["status"] == "disabled" and c["enabled"] is False
    lines = config_lines(c["config"])
    assert "Address = 10.10.0.77/32, fd10::77/128" in lines
    assert "AllowedIPs = 10.10.0.0/24" in lines
    assert "DNS = 1.1.1.1, 2606:4700:4700::1111" in lines
    assert not any(line.startswith("PersistentKeepalive") for line in lines)
    # the server has no endpoint: the host-wide public_endpoint of the fixture
    assert "Endpoint = vpn.example.net:51820" in lines
    # only one family given: the other is not assigned unless asked
    c4 = mk_client(d, admin, s["id"], "v4", ipv4_address="10.10.0.78")
    assert c4["ipv4_address"] == "10.10.0.78/32" and c4["ipv6_address"] is None
    both = mk_client(d, admin, s["id"], "v4auto6", ipv4_address="10.10.0.79/32", auto_assign_ip=True)
    assert both["ipv4_address"] == "10.10.0.79/32" and both["ipv6_address"] == "fd10::2/128"


@pytest.mark.parametrize("patch,field", [
    ({"name": None}, "name"),
    ({"server_id": None}, "server_id"),
    ({"name": ""}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"name": "bad/name"}, "name"),
    ({"name": 3}, "name"),
    ({"server_id": "SID"}, "server_id"),  # a string, not the integer
    ({"server_id": 0}, "server_id"),
    ({"server_id": -5}, "server_id"),
    ({"server_id": 424242}, "server_id"),  # no such server
    ({"server_id": 1.5}, "server_id"),
    ({"ipv4_address": "10.10.0.5/24"}, "ipv4_address"),
    ({"ipv4_address": "10.20.0.5/32"}, "ipv4_address"),  # outside the subnet
    ({"ipv4_address": "10.10.0.1/32"}, "ipv4_address"),  # the server's own
    ({"ipv4_address": "10.10.0.0/32"}, "ipv4_address"),  # network
    ({"ipv4_address": "10.10.0.255/32"}, "ipv4_address"),  # broadcast
    ({"ipv4_address": "fd10::5/128"}, "ipv4_address"),
    ({"ipv4_address": "garbage"}, "ipv4_address"),
    ({"ipv4_address": ""}, "ipv4_address"),
    ({"ipv4_address": 5}, "ipv4_address"),
    ({"ipv6_address": "fd11::5/128"}, "ipv6_address"),
    ({"ipv6_address": "fd10::1/128"}, "ipv6_address"),
    ({"ipv6_address": "fd10::5/64"}, "ipv6_address"),
    ({"ipv6_address": "fd10:0:0:1::5/128"}, "ipv6_address"),  # not in fd10::/64
    ({"ipv6_address": "10.10.0.5/32"}, "ipv6_address"),
    ({"ipv6_address": "fd10::zz/128"}, "ipv6_address"),
    ({"allowed_ips": ["0.0.0.0"]}, "allowed_ips"),
    ({"allowed_ips": ["::/200"]}, "allowed_ips"),
    ({"allowed_ips": "0.0.0.0/0"}, "allowed_ips"),
    ({"dns_servers": ["one.one.one.one"]}, "dns_servers"),
    ({"dns_servers": "1.1.1.1"}, "dns_servers"),
    ({"dns_servers": ["1.1.1.1"] * 9}, "dns_servers"),
    ({"persistent_keepalive": -1}, "persistent_keepalive"),
    ({"persistent_keepalive": 65536}, "persistent_keepalive"),
    ({"persistent_keepalive": "25"}, "persistent_keepalive"),
    ({"auto_assign_ip": "yes"}, "auto_assign_ip"),
    ({"auto_assign_ip": False}, "ipv4_address"),  # no address at all
    ({"preshared_key": "secret"}, "preshared_key"),
    ({"enabled": 1}, "enabled"),
    ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),  # in the past
    ({"expires_at": "PAST"}, "expires_at"),
    ({"expires_at": "tomorrow"}, "expires_at"),
    ({"expires_at": "2999-01-01"}, "expires_at"),
    ({"expires_at": "2999-01-01T00:00:00+02:00"}, "expires_at"),
    ({"expires_at": 4102444800}, "expires_at"),
    ({"expires_at": " 2999-01-01T00:00:00Z"}, "expires_at"),
    ({"expires_at": "2999-1-1T0:0:0Z"}, "expires_at"),
    ({"allowed_ips": ["10.0.0.0/ 8"]}, "allowed_ips"),
    ({"allowed_ips": ["10.0.0.0/8 "]}, "allowed_ips"),
    ({"allowed_ips": ["10.0.0.0/08"]}, "allowed_ips"),
    ({"allowed_ips": ["10.0.0.0/+8"]}, "allowed_ips"),
    ({"ipv4_address": "10.10.0.9/ 32"}, "ipv4_address"),
    ({"description": "x" * 501}, "description"),
    ({"public_key": "x"}, "public_key"),
    ({"private_key": "x"}, "private_key"),
    ({"status": "active"}, "status"),
])
def test_client_create_bad_input(srv, patch, field):
    d, admin, s = srv
    body = {"name": "c1", "server_id": s["id"]}
    for k, v in patch.items():
        if v == "SID":
            v = str(s["id"])
        elif v == "PAST":
            v = utc(-60)
        body[k] = v
    body = {k: v for k, v in body.items() if v is not None}
    # Absent where required (a removed field, or no address without
    # auto_assign_ip) is 400 MISSING_PARAMETER; a bad value 422.
    missing = any(v is None for v in patch.values()) or patch == {"auto_assign_ip": False}
    err = assert_error(d.call("POST", "/wireguard/clients", token=admin, json=body), *expect(missing))
    assert field in err["details"], err
    assert d.call("GET", "/wireguard/clients", token=admin).json()["data"]["pagination"]["total"] == 0
    # nothing was used up: the next client still gets .2
    assert mk_client(d, admin, s["id"])["ipv4_address"] == "10.10.0.2/32"


def test_client_create_body_not_an_object(srv):
    d, admin, _ = srv
    err = assert_error(d.call("POST", "/wireguard/clients", token=admin, json=["c1"]), 422, "VALIDATION_ERROR")
    assert "body" in err["details"], err


def test_client_explicit_address_taken(srv):
    d, admin, s = srv
    mk_client(d, admin, s["id"], "a", ipv4_address="10.10.0.5/32", ipv6_address="fd10::5/128")
    err = assert_error(post_client(d, admin, s["id"], "b", ipv4_address="10.10.0.5/32"), 409,
                       "RESOURCE_ALREADY_EXISTS")
    assert "ipv4_address" in err["details"], err
    err = assert_error(post_client(d, admin, s["id"], "c", ipv6_address="fd10::5/128"), 409,
                       "RESOURCE_ALREADY_EXISTS")
    assert "ipv6_address" in err["details"], err
    # an auto-assigned address is taken just the same
    auto = mk_client(d, admin, s["id"], "d")
    err = assert_error(post_client(d, admin, s["id"], "e", ipv4_address=auto["ipv4_address"]), 409,
                       "RESOURCE_ALREADY_EXISTS")
    assert "ipv4_address" in err["details"], err
    # the same address on another server is fine
    other = mk_server(d, admin, name=WG1, listen_port=51821)
    assert mk_client(d, admin, other["id"], "b", ipv4_address="10.10.0.5/32")["ipv4_address"] == "10.10.0.5/32"


def test_client_duplicate_name_on_one_server(srv):
    d, admin, s = srv
    mk_client(d, admin, s["id"], "dup")
    err = assert_error(post_client(d, admin, s["id"], "dup"), 409, "RESOURCE_ALREADY_EXISTS")
    assert "name" in err["details"], err
    other = mk_server(d, admin, name=WG1, listen_port=51821, ipv4_address="10.11.0.1/24", ipv6_address=None)
    assert mk_client(d, admin, other["id"], "dup")["server_id"] == other["id"]
    # the failed attempt used up no address
    assert mk_client(d, admin, s["id"], "next")["ipv4_address"] == "10.10.0.3/32"


def test_client_duplicate_name_with_explicit_address_names_the_name(srv):
    """The conflict is the name, not the (free) explicit address."""
    d, admin, s = srv
    mk_client(d, admin, s["id"], "dup")
    err = assert_error(post_client(d, admin, s["id"], "dup", ipv4_address="10.10.0.50/32"), 409,
                       "RESOURCE_ALREADY_EXISTS")
    assert "name" in err["details"], err


def test_auto_assign_sequence(srv):
    d, admin, s = srv
    got = [mk_client(d, admin, s["id"], "c%d" % i) for i in range(4)]
    assert [c["ipv4_address"] for c in got] == ["10.10.0.%d/32" % i for i in (2, 3, 4, 5)]
    assert [c["ipv6_address"] for c in got] == ["fd10::%d/128" % i for i in (2, 3, 4, 5)]


def test_auto_assign_skips_server_and_explicit_addresses(env):
    d, admin = env
    s = mk_server(d, admin, ipv4_address="10.10.0.3/24", ipv6_address="fd10::3/64")
    mk_client(d, admin, s["id"], "fixed", ipv4_address="10.10.0.2/32", ipv6_address="fd10::4/128")
    got = [mk_client(d, admin, s["id"], "c%d" % i) for i in range(3)]
    assert [c["ipv4_address"] for c in got] == ["10.10.0.1/32", "10.10.0.4/32", "10.10.0.5/32"]
    assert [c["ipv6_address"] for c in got] == ["fd10::1/128", "fd10::2/128", "fd10::5/128"]


def test_released_addresses_are_reused(srv):
    d, admin, s = srv
    c1, c2 = mk_client(d, admin, s["id"], "c1"), mk_client(d, admin, s["id"], "c2")
    assert c1["ipv4_address"] == "10.10.0.2/32" and c2["ipv4_address"] == "10.10.0.3/32"
    r = d.call("DELETE", "/wireguard/clients/%d" % c1["id"], token=admin)
    assert r.status_code == 200 and r.json()["data"] == {"id": c1["id"], "deleted": True}, r.text
    c3 = mk_client(d, admin, s["id"], "c3")
    assert c3["ipv4_address"] == "10.10.0.2/32" and c3["ipv6_address"] == "fd10::2/128"
    c4 = mk_client(d, admin, s["id"], "c4")
    assert c4["ipv4_address"] == "10.10.0.4/32" and c4["ipv6_address"] == "fd10::4/128"


def test_released_address_taken_explicitly_is_not_handed_out_again(srv):
    """A released address claimed explicitly must leave the free list (or
    be skipped): auto-assignment goes on with the next free one."""
    d, admin, s = srv
    c1 = mk_client(d, admin, s["id"], "c1")
    assert d.call("DELETE", "/wireguard/clients/%d" % c1["id"], token=admin).status_code == 200
    mk_client(d, admin, s["id"], "fixed", ipv4_address="10.10.0.2/32", ipv6_address="fd10::2/128")
    r = post_client(d, admin, s["id"], "auto")
    assert r.status_code == 201, r.text
    assert r.json()["data"]["ipv4_address"] == "10.10.0.3/32"


def test_subnet_full(env):
    d, admin = env
    s = mk_server(d, admin, ipv4_address="10.30.0.1/30", ipv6_address=None)
    c = mk_client(d, admin, s["id"], "only")
    assert c["ipv4_address"] == "10.30.0.2/32" and c["ipv6_address"] is None
    err = assert_error(post_client(d, admin, s["id"], "second"), 409, "SUBNET_FULL")
    assert err["details"]["server_id"] == s["id"]
    # .3 is the broadcast address, .0 the network: neither can be given
    for addr in ("10.30.0.3/32", "10.30.0.0/32"):
        err = assert_error(post_client(d, admin, s["id"], "second", ipv4_address=addr), 422, "VALIDATION_ERROR")
        assert "ipv4_address" in err["details"]
    assert d.call("DELETE", "/wireguard/clients/%d" % c["id"], token=admin).status_code == 200
    assert mk_client(d, admin, s["id"], "again")["ipv4_address"] == "10.30.0.2/32"


def test_subnet_full_ipv6(env):
    d, admin = env
    s = mk_server(d, admin, ipv4_address=None, ipv6_address="fd30::1/126")
    got = [mk_client(d, admin, s["id"], "c%d" % i)["ipv6_address"] for i in range(2)]
    assert got == ["fd30::2/128", "fd30::3/128"]
    assert_error(post_client(d, admin, s["id"], "third"), 409, "SUBNET_FULL")


def test_full_family_blocks_the_client(env):
    """Auto-assignment wants both families when the server has both."""
    d, admin = env
    s = mk_server(d, admin, ipv4_address="10.30.0.1/30", ipv6_address="fd30::1/64")
    mk_client(d, admin, s["id"], "only")
    assert_error(post_client(d, admin, s["id"], "second"), 409, "SUBNET_FULL")
    # explicitly IPv6 only still fits
    c = mk_client(d, admin, s["id"], "v6", ipv6_address="fd30::9/128")
    assert c["ipv4_address"] is None and c["ipv6_address"] == "fd30::9/128"


def test_new_subnet_starts_a_fresh_allocator(srv):
    """After the server moves to a smaller subnet (allowed while it has no
    clients), auto-assignment stays inside it: a /30 holds one client."""
    d, admin, s = srv
    ids = [mk_client(d, admin, s["id"], "c%d" % i)["id"] for i in range(3)]  # .2 .3 .4
    for cid in ids:
        assert d.call("DELETE", "/wireguard/clients/%d" % cid, token=admin).status_code == 200
    r = d.call("PUT", "/wireguard/servers/%d" % s["id"], token=admin, json={"ipv4_address": "10.10.0.1/30"})
    assert r.status_code == 200, r.text
    assert mk_client(d, admin, s["id"], "a")["ipv4_address"] == "10.10.0.2/32"
    r = post_client(d, admin, s["id"], "b")
    assert r.status_code == 409, "got %s (10.10.0.3 is the broadcast address of 10.10.0.0/30)" % r.text


def test_new_server_address_is_never_handed_out(srv):
    d, admin, s = srv
    c = mk_client(d, admin, s["id"], "c1")  # .2
    assert d.call("DELETE", "/wireguard/clients/%d" % c["id"], token=admin).status_code == 200
    r = d.call("PUT", "/wireguard/servers/%d" % s["id"], token=admin, json={"ipv4_address": "10.10.0.2/24"})
    assert r.status_code == 200, r.text
    got = mk_client(d, admin, s["id"], "c2")["ipv4_address"]
    assert got != "10.10.0.2/32", "the server's own address was given to a client"


@pytest.mark.parametrize("query,field", [
    ("server_id=x", "server_id"), ("server_id=0", "server_id"), ("server_id=-1", "server_id"),
    ("page=0", "page"), ("page=abc", "page"), ("size=0", "size"), ("size=101", "size"),
    ("status=gone", "status"), ("status=Active", "status"), ("search=" + "y" * 101, "search"),
])
def test_client_list_bad_query(env, query, field):
    d, admin = env
    err = assert_error(d.call("GET", "/wireguard/clients?" + query, token=admin), 422, "VALIDATION_ERROR")
    assert field in err["details"], err


def test_client_list_filters_and_pagination(srv):
    d, admin, s = srv
    other = mk_server(d, admin, name=WG1, listen_port=51821, ipv4_address="10.11.0.1/24", ipv6_address=None)
    a = mk_client(d, admin, s["id"], "alice-laptop", description="finance")
    b = mk_client(d, admin, s["id"], "bob-phone")
    c = mk_client(d, admin, other["id"], "carol-laptop")
    assert d.call("POST", "/wireguard/clients/%d/disable" % b["id"], token=admin).status_code == 200

    def ids(query):
        r = d.call("GET", "/wireguard/clients?" + query, token=admin)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["data"]["clients"]]

    assert ids("") == [a["id"], b["id"], c["id"]]
    assert ids("server_id=%d" % s["id"]) == [a["id"], b["id"]]
    assert ids("server_id=%d" % other["id"]) == [c["id"]]
    assert ids("server_id=424242") == []
    assert ids("status=disabled") == [b["id"]]
    assert ids("status=active") == [a["id"], c["id"]]
    assert ids("status=expired") == []
    assert ids("search=laptop") == [a["id"], c["id"]]
    assert ids("search=financ") == [a["id"]]  # the description counts
    assert ids("search=laptop&server_id=%d" % other["id"]) == [c["id"]]
    assert ids("search=%25") == []
    data = d.call("GET", "/wireguard/clients?page=2&size=2", token=admin).json()["data"]
    assert [x["id"] for x in data["clients"]] == [c["id"]]
    assert data["pagination"] == {"page": 2, "size": 2, "total": 3, "pages": 2, "has_next": False, "has_prev": True}
    data = d.call("GET", "/wireguard/clients?size=1", token=admin).json()["data"]
    assert data["pagination"] == {"page": 1, "size": 1, "total": 3, "pages": 3, "has_next": True, "has_prev": False}
    # list entries have the object's shape, without config or QR
    entry = d.call("GET", "/wireguard/clients?server_id=%d&search=alice" % s["id"], token=admin).json()["data"]
    assert entry["clients"][0] == d.call("GET", "/wireguard/clients/%d" % a["id"], token=admin).json()["data"]


@pytest.mark.parametrize("cid", NOT_FOUND_IDS)
def test_client_not_found(srv, cid):
    d, admin, s = srv
    mk_client(d, admin, s["id"])
    for method, path, body in (("GET", "", None), ("PUT", "", {"description": "x"}), ("DELETE", "", None),
                               ("GET", "/config", None), ("GET", "/config?format=png", None),
                               ("POST", "/enable", None), ("POST", "/disable", None), ("POST", "/rotate-keys", None)):
        r = d.call(method, "/wireguard/clients/" + cid + path, token=admin, json=body)
        assert_error(r, 404, "RESOURCE_NOT_FOUND")
    assert d.call("GET", "/wireguard/clients", token=admin).json()["data"]["pagination"]["total"] == 1


def test_client_config_endpoint(env):
    d, admin = env
    s = mk_server(d, admin, endpoint="vpn.example.com")
    c = mk_client(d, admin, s["id"])
    path = "/wireguard/clients/%d/config" % c["id"]
    r = d.call("GET", path, token=admin)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0].strip() == "text/plain"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and ".conf" in disposition
    assert r.text == c["config"]
    lines = config_lines(r.text)
    assert "Address = 10.10.0.2/32, fd10::2/128" in lines and "PublicKey = " + s["public_key"] in lines
    assert d.call("GET", path + "?format=conf", token=admin).text == r.text
    png = d.call("GET", path + "?format=png", token=admin)
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(PNG_SIGNATURE)
    for bad in ("bad", "PNG", "", "json"):
        err = assert_error(d.call("GET", path + "?format=" + bad, token=admin), 422, "VALIDATION_ERROR")
        assert "format" in err["details"], err


def test_config_endpoint_forms(env):
    d, admin = env
    for i, (endpoint, want) in enumerate((("vpn.example.com:443", "vpn.example.com:443"),
                                          ("2001:db8::1", "[2001:db8::1]:%d"),
                                          ("[2001:db8::1]:443", "[2001:db8::1]:443"),
                                          ("198.51.100.7", "198.51.100.7:%d"))):
        port = 51830 + i
        s = mk_server(d, admin, name="wg%d" % i, listen_port=port, endpoint=endpoint, ipv6_address=None,
                      ipv4_address="10.%d.0.1/24" % (40 + i))
        c = mk_client(d, admin, s["id"])
        want = want % port if "%d" in want else want
        assert "Endpoint = " + want in config_lines(c["config"]), c["config"]


def _endpoint_line(config):
    got = [line for line in config_lines(config) if line.startswith("Endpoint = ")]
    assert len(got) == 1, config
    return got[0][len("Endpoint = "):]


def test_public_endpoint_and_server_override(daemons):
    """[wireguard] public_endpoint is what clients of a server without an
    endpoint dial, with the server's port; a server's own endpoint wins."""
    d = daemons(plugins=[PLUGIN], dropins={"50-wireguard.conf": "[wireguard]\npublic_endpoint = 2001:db8::10\n"})
    admin = d.login()
    d.wait_log(r"public endpoint: 2001:db8::10 \(configured\)")
    s = mk_server(d, admin)  # exactly as the spec's example: no endpoint
    assert s["endpoint"] is None
    c = mk_client(d, admin, s["id"])
    assert _endpoint_line(c["config"]) == "[2001:db8::10]:51820"
    cfg = d.call("GET", "/wireguard/clients/%d/config" % c["id"], token=admin)
    assert cfg.status_code == 200 and _endpoint_line(cfg.text) == "[2001:db8::10]:51820"
    # the server's own endpoint overrides the host-wide one, at once
    r = d.call("PUT", "/wireguard/servers/%d" % s["id"], token=admin, json={"endpoint": "vpn.example.org"})
    assert r.status_code == 200, r.text
    cfg = d.call("GET", "/wireguard/clients/%d/config" % c["id"], token=admin)
    assert _endpoint_line(cfg.text) == "vpn.example.org:51820"
    # a host name works the same way, from the environment (which beats the file)
    e = daemons(plugins=[PLUGIN], env={"WGM_WIREGUARD_PUBLIC_ENDPOINT": "vpn.example.net"})
    tok = e.login()
    c2 = mk_client(e, tok, mk_server(e, tok, listen_port=51999)["id"])
    assert _endpoint_line(c2["config"]) == "vpn.example.net:51999"


@pytest.mark.parametrize("value", ["bad host", "vpn.example.com:51820", "[2001:db8::1]:1", "-x.example", "1.2.3.999"])
def test_public_endpoint_is_checked(daemons, value):
    """A public_endpoint that is not a host or an address stops the plugin
    with a line naming the key, from the file or from the environment."""
    for kw in ({"dropins": {"50-wireguard.conf": "[wireguard]\npublic_endpoint = %s\n" % value}},
               {"env": {"WGM_WIREGUARD_PUBLIC_ENDPOINT": value}}):
        d = daemons(plugins=[PLUGIN], **kw)
        d.wait_log(r"public_endpoint: '%s' is not a host name or an IP address" % re.escape(value))
        r = d.call("GET", "/wireguard/servers", token=d.login())
        assert r.status_code == 404, r.text  # wireguard.so did not start


def test_no_endpoint_known_409(daemons):
    """public_endpoint_auto = no and no public_endpoint: a client is still
    created, but its config and QR answer 409 naming endpoint until the
    server gets one."""
    d = daemons(plugins=[PLUGIN], dropins={"50-wireguard.conf": "[wireguard]\npublic_endpoint_auto = no\n"})
    admin = d.login()
    d.wait_log(r"public endpoint: not set and detection is off")
    s = mk_server(d, admin)
    r = post_client(d, admin, s["id"])
    assert r.status_code == 201, r.text
    c = r.json()["data"]
    assert c["config"] is None and c["qr_code"] is None
    path = "/wireguard/clients/%d/config" % c["id"]
    for q in ("", "?format=conf", "?format=png"):
        err = assert_error(d.call("GET", path + q, token=admin), 409, "RESOURCE_CONFLICT")
        assert "endpoint" in err["details"], err
    r = d.call("PUT", "/wireguard/servers/%d" % s["id"], token=admin, json={"endpoint": "198.51.100.9"})
    assert r.status_code == 200, r.text
    cfg = d.call("GET", path, token=admin)
    assert cfg.status_code == 200 and _endpoint_line(cfg.text) == "198.51.100.9:51820"
    png = d.call("GET", path + "?format=png", token=admin)
    assert png.status_code == 200 and png.content.startswith(PNG_SIGNATURE)


def _host_addresses():
    """Addresses on this host's non-loopback interfaces, from ip(8)."""
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    import json
    return {a["local"] for link in json.loads(out) if link["ifname"] != "lo" for a in link.get("addr_info", [])}


def test_detected_endpoint(daemons):
    """Without public_endpoint, a host address is offered (logged at start),
    bracketed when IPv6; with none usable, configs answer 409."""
    d = daemons(plugins=[PLUGIN])
    admin = d.login()
    line = d.wait_log(r"public endpoint: (\S+ of this host \(detected|no usable address)")
    c = mk_client(d, admin, mk_server(d, admin)["id"])
    m = re.search(r"public endpoint: (\S+) of this host", line)
    if m:
        addr = m.group(1)
        assert addr in _host_addresses() and not addr.startswith("fe80:") and not addr.startswith("127.")
        want = ("[%s]:51820" if ":" in addr else "%s:51820") % addr
        assert _endpoint_line(c["config"]) == want
    else:
        assert c["config"] is None
        assert_error(d.call("GET", "/wireguard/clients/%d/config" % c["id"], token=admin), 409, "RESOURCE_CONFLICT")


def test_success_messages(env):
    """Creates and actions carry a message: English by default, Chinese
    when Accept-Language prefers it."""
    d, admin = env
    zh = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    r = d.call("POST", "/wireguard/servers", token=admin, json=dict(DEFAULT_SERVER), headers=zh)
    assert r.status_code == 201 and r.json()["message"] == "服务器创建成功", r.text
    sid = r.json()["data"]["id"]
    r = d.call("POST", "/wireguard/servers", token=admin, json=dict(DEFAULT_SERVER, name=WG1, listen_port=51821))
    assert r.status_code == 201 and r.json()["message"] == "Server created", r.text
    r = post_client(d, admin, sid)
    assert r.status_code == 201 and r.json()["message"] == "Client created", r.text
    cid = r.json()["data"]["id"]
    r = d.call("POST", "/wireguard/clients", token=admin, json={"name": "c2", "server_id": sid}, headers=zh)
    assert r.json()["message"] == "客户端创建成功", r.text
    r = d.call("POST", "/wireguard/servers/%d/stop" % sid, token=admin)
    assert r.status_code == 200 and r.json()["message"] == "Server stopped", r.text
    r = d.call("POST", "/wireguard/servers/%d/stop" % sid, token=admin, headers=zh)
    assert r.json()["message"] == "服务器停止成功", r.text
    r = d.call("POST", "/wireguard/clients/%d/disable" % cid, token=admin)
    assert r.json()["message"] == "Client disabled", r.text
    r = d.call("DELETE", "/wireguard/clients/%d" % cid, token=admin, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "客户端删除成功", r.text
    # reads carry none
    assert "message" not in d.call("GET", "/wireguard/servers/%d" % sid, token=admin).json()


def test_enable_disable(srv):
    d, admin, s = srv
    c = mk_client(d, admin, s["id"])
    base = "/wireguard/clients/%d" % c["id"]
    r = d.call("POST", base + "/disable", token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "disabled" and r.json()["data"]["enabled"] is False
    assert d.call("GET", base, token=admin).json()["data"]["status"] == "disabled"
    assert d.call("POST", base + "/disable", token=admin).json()["data"]["status"] == "disabled"  # idempotent
    r = d.call("POST", base + "/enable", token=admin)
    assert r.status_code == 200 and r.json()["data"]["status"] == "active", r.text
    # also through PUT
    r = d.call("PUT", base, token=admin, json={"enabled": False})
    assert r.status_code == 200 and r.json()["data"]["status"] == "disabled", r.text
    after = d.call("GET", base, token=admin).json()["data"]
    assert after["public_key"] == c["public_key"] and after["ipv4_address"] == c["ipv4_address"]


def test_rotate_keys_keeps_the_client(srv):
    d, admin, s = srv
    c = mk_client(d, admin, s["id"])
    base = "/wireguard/clients/%d" % c["id"]
    r = d.call("POST", base + "/rotate-keys", token=admin)
    assert r.status_code == 200, r.text
    n = r.json()["data"]
    assert n["id"] == c["id"] and n["name"] == c["name"] and n["server_id"] == s["id"]
    assert n["ipv4_address"] == c["ipv4_address"] and n["ipv6_address"] == c["ipv6_address"]
    assert n["public_key"] != c["public_key"] and n["private_key"] != c["private_key"]
    assert len(base64.b64decode(n["public_key"])) == 32
    config = d.call("GET", base + "/config", token=admin).text
    assert "PrivateKey = " + n["private_key"] in config_lines(config)
    assert c["private_key"] not in config
    assert d.call("GET", base, token=admin).json()["data"]["public_key"] == n["public_key"]
    assert d.call("GET", "/wireguard/clients", token=admin).json()["data"]["pagination"]["total"] == 1


def test_preshared_key_optional(srv):
    d, admin, s = srv
    without = mk_client(d, admin, s["id"], "nopsk", preshared_key=False)
    assert without["has_preshared_key"] is False and without["preshared_key"] is None
    assert not any(line.startswith("PresharedKey") for line in config_lines(without["config"]))
    text = d.call("GET", "/wireguard/clients/%d/config" % without["id"], token=admin).text
    assert "PresharedKey" not in text
    with_psk = mk_client(d, admin, s["id"], "psk")
    assert with_psk["has_preshared_key"] is True
    assert "PresharedKey = " + with_psk["preshared_key"] in config_lines(with_psk["config"])
    assert len(base64.b64decode(with_psk["preshared_key"])) == 32


def test_expires_at(srv):
    d, admin, s = srv
    err = assert_error(post_client(d, admin, s["id"], expires_at=utc(-1)), 422, "VALIDATION_ERROR")
    assert "expires_at" in err["details"]
    when = utc(2)
    c = mk_client(d, admin, s["id"], expires_at=when)
    assert c["expires_at"] == when and c["status"] == "active"
    far = mk_client(d, admin, s["id"], "far", expires_at="2999-12-31T23:59:59Z")
    assert far["expires_at"] == "2999-12-31T23:59:59Z"
    time.sleep(3.2)
    got = d.call("GET", "/wireguard/clients/%d" % c["id"], token=admin).json()["data"]
    assert got["status"] in ("expired", "disabled"), got
    ids = [x["id"] for x in d.call("GET", "/wireguard/clients?status=active", token=admin).json()["data"]["clients"]]
    assert ids == [far["id"]]


def test_expiry_task_disables_clients(srv):
    """The expiry task (every 30 s) turns expired clients off for good."""
    d, admin, s = srv
    c = mk_client(d, admin, s["id"], expires_at=utc(1))
    deadline = time.time() + 45
    status = None
    while time.time() < deadline:
        got = d.call("GET", "/wireguard/clients/%d" % c["id"], token=admin).json()["data"]
        status = got["status"]
        if status == "disabled":
            break
        time.sleep(1)
    assert status == "disabled" and got["enabled"] is False, got
    ids = [x["id"] for x in d.call("GET", "/wireguard/clients?status=disabled", token=admin).json()["data"]["clients"]]
    assert ids == [c["id"]]


def test_client_update(srv):
    d, admin, s = srv
    c = mk_client(d, admin, s["id"])
    base = "/wireguard/clients/%d" % c["id"]
    r = d.call("PUT", base, token=admin, json={"name": "renamed", "description": "d", "allowed_ips": ["10.10.0.0/24"],
                                               "dns_servers": ["9.9.9.9"], "persistent_keepalive": 5})
    assert r.status_code == 200, r.text
    u = r.json()["data"]
    assert u["id"] == c["id"] and u["name"] == "renamed" and u["description"] == "d"
    assert u["allowed_ips"] == ["10.10.0.0/24"] and u["dns_servers"] == ["9.9.9.9"] and u["persistent_keepalive"] == 5
    assert u["public_key"] == c["public_key"] and u["ipv4_address"] == c["ipv4_address"]
    lines = config_lines(d.call("GET", base + "/config", token=admin).text)
    assert "AllowedIPs = 10.10.0.0/24" in lines and "DNS = 9.9.9.9" in lines and "PersistentKeepalive = 5" in lines
    # partial
    u2 = d.call("PUT", base, token=admin, json={"description": "e"}).json()["data"]
    assert u2["name"] == "renamed" and u2["description"] == "e" and u2["allowed_ips"] == ["10.10.0.0/24"]
    # a taken name
    mk_client(d, admin, s["id"], "other")
    err = assert_error(d.call("PUT", base, token=admin, json={"name": "other"}), 409, "RESOURCE_ALREADY_EXISTS")
    assert "name" in err["details"], err


@pytest.mark.parametrize("body,field", [
    ({"ipv4_address": "10.10.0.9/32"}, "ipv4_address"),
    ({"server_id": 2}, "server_id"),
    ({"public_key": "x"}, "public_key"),
    ({"name": ""}, "name"),
    ({"name": "a/b"}, "name"),
    ({"allowed_ips": ["1.2.3.4/40"]}, "allowed_ips"),
    ({"dns_servers": ["nope"]}, "dns_servers"),
    ({"persistent_keepalive": 70000}, "persistent_keepalive"),
    ({"persistent_keepalive": -2}, "persistent_keepalive"),
    ({"enabled": "no"}, "enabled"),
    ({"description": ["x"]}, "description"),
])
def test_client_update_bad_input(srv, body, field):
    d, admin, s = srv
    c = mk_client(d, admin, s["id"])
    base = "/wireguard/clients/%d" % c["id"]
    before = d.call("GET", base, token=admin).json()["data"]
    err = assert_error(d.call("PUT", base, token=admin, json=body), 422, "VALIDATION_ERROR")
    assert field in err["details"], err
    assert d.call("GET", base, token=admin).json()["data"] == before


# ---------------------------------------------------- secrets and access --

def test_private_keys_need_wireguard_secrets(srv):
    d, admin, s = srv
    c = mk_client(d, admin, s["id"], "by-admin")
    assert s["private_key"] and c["private_key"] and c["preshared_key"]
    make_user(d, admin, "mgr", role="manager")
    mgr = d.login("mgr", STRONG)
    me = d.call("GET", "/users/me", token=mgr).json()["data"]
    assert "wireguard.edit" in me["permissions"] and "wireguard.secrets" not in me["permissions"]

    got = d.call("GET", "/wireguard/servers/%d" % s["id"], token=mgr).json()["data"]
    assert "private_key" not in got and got["public_key"] == s["public_key"]
    assert all("private_key" not in x for x in d.call("GET", "/wireguard/servers", token=mgr).json()["data"]["servers"])
    got = d.call("GET", "/wireguard/clients/%d" % c["id"], token=mgr).json()["data"]
    assert "private_key" not in got and "preshared_key" not in got and got["public_key"] == c["public_key"]
    listed = d.call("GET", "/wireguard/clients", token=mgr).json()["data"]["clients"]
    assert listed and all("private_key" not in x and "preshared_key" not in x for x in listed)
    # what a manager creates or changes is answered without the keys too
    ms = mk_server(d, mgr, name=WG1, listen_port=51821, ipv4_address="10.11.0.1/24", ipv6_address=None)
    assert "private_key" not in ms
    out = d.call("PUT", "/wireguard/servers/%d" % s["id"], token=mgr, json={"description": "x"}).json()["data"]
    assert "private_key" not in out
    base = "/wireguard/clients/%d" % c["id"]
    for method, path, body in (("PUT", base, {"description": "x"}), ("POST", base + "/disable", None),
                               ("POST", base + "/rotate-keys", None)):
        out = d.call(method, path, token=mgr, json=body).json()["data"]
        assert "private_key" not in out and "preshared_key" not in out, path
    # the client's own config carries its key: that is what it is for
    config = d.call("GET", "/wireguard/clients/%d/config" % c["id"], token=mgr).text
    assert "PrivateKey = " in config
    # admin still sees everything
    assert d.call("GET", "/wireguard/servers/%d" % s["id"], token=admin).json()["data"]["private_key"] == s["private_key"]
    assert d.call("GET", "/wireguard/clients/%d" % c["id"], token=admin).json()["data"]["private_key"]


def test_manager_create_client_answer_has_no_key_fields(srv):
    """The create answer carries config and qr_code (the client's own), but
    no private_key/preshared_key fields for a caller without secrets."""
    d, admin, s = srv
    make_user(d, admin, "mgr", role="manager")
    mgr = d.login("mgr", STRONG)
    mc = mk_client(d, mgr, s["id"], "by-mgr")
    assert "private_key" not in mc and "preshared_key" not in mc
    assert "PrivateKey = " in mc["config"] and mc["qr_code"].startswith("data:image/png;base64,")


def test_secrets_permission_grants_keys(srv):
    d, admin, s = srv
    c = mk_client(d, admin, s["id"])
    make_user(d, admin, "ops", role="manager", permissions=["wireguard.secrets"])
    ops = d.login("ops", STRONG)
    assert d.call("GET", "/wireguard/servers/%d" % s["id"], token=ops).json()["data"]["private_key"] == s["private_key"]
    assert d.call("GET", "/wireguard/clients/%d" % c["id"], token=ops).json()["data"]["private_key"] == c["private_key"]


def test_view_only_api_key(srv):
    d, admin, s = srv
    c = mk_client(d, admin, s["id"])
    r = d.call("POST", "/auth/api-keys", token=admin, json={"name": "wg-view", "permissions": ["wireguard.view"]})
    assert r.status_code == 201, r.text
    key = r.json()["data"]["api_key"]
    assert d.call("GET", "/wireguard/servers", token=key).status_code == 200
    got = d.call("GET", "/wireguard/servers/%d" % s["id"], token=key)
    assert got.status_code == 200 and "private_key" not in got.json()["data"]
    got = d.call("GET", "/wireguard/clients/%d" % c["id"], token=key)
    assert got.status_code == 200 and "private_key" not in got.json()["data"]
    body = dict(DEFAULT_SERVER, name=WG1, listen_port=51821)
    for method, path, json_body in (("POST", "/wireguard/servers", body),
                                    ("PUT", "/wireguard/servers/%d" % s["id"], {"description": "x"}),
                                    ("DELETE", "/wireguard/servers/%d?force=true" % s["id"], None),
                                    ("POST", "/wireguard/servers/%d/start" % s["id"], None),
                                    ("POST", "/wireguard/servers/%d/stop" % s["id"], None),
                                    ("POST", "/wireguard/clients", {"name": "x", "server_id": s["id"]}),
                                    ("PUT", "/wireguard/clients/%d" % c["id"], {"description": "x"}),
                                    ("DELETE", "/wireguard/clients/%d" % c["id"], None),
                                    ("POST", "/wireguard/clients/%d/disable" % c["id"], None),
                                    ("POST", "/wireguard/clients/%d/rotate-keys" % c["id"], None)):
        err = assert_error(d.call(method, path, token=key, json=json_body), 403, "INSUFFICIENT_PERMISSIONS")
        assert err["details"]["required"] == "wireguard.edit", (method, path, err)
    assert d.call("GET", "/wireguard/servers", token=admin).json()["data"]["pagination"]["total"] == 1
    assert d.call("GET", "/wireguard/clients/%d" % c["id"], token=admin).json()["data"]["public_key"] == c["public_key"]


def test_plain_user_cannot_edit(srv):
    d, admin, s = srv
    make_user(d, admin, "viewer", role="user")
    tok = d.login("viewer", STRONG)
    assert d.call("GET", "/wireguard/servers", token=tok).status_code == 200
    body = dict(DEFAULT_SERVER, name=WG1, listen_port=51821)
    assert_error(d.call("POST", "/wireguard/servers", token=tok, json=body), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(d.call("POST", "/wireguard/clients", token=tok, json={"name": "x", "server_id": s["id"]}), 403,
                 "INSUFFICIENT_PERMISSIONS")


def test_requires_authentication(srv):
    d, _, s = srv
    for method, path in (("GET", "/wireguard/servers"), ("POST", "/wireguard/servers"),
                         ("GET", "/wireguard/servers/%d" % s["id"]), ("GET", "/wireguard/clients"),
                         ("POST", "/wireguard/clients"), ("GET", "/wireguard/clients/1/config")):
        assert d.request(method, path).status_code == 401, (method, path)
