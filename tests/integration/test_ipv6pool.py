"""/ipv6/pools and /ipv6/allocations on a real wgmd with ipv6pool.so:
the spec shapes, validation naming the field, overlap, exact counts past
2^53 (decimal strings there, integers up to 2^53), the automatic sequence
after the reserved prefixes, custom prefixes, a full pool, release with
quarantine and reuse, expiry by timer, permissions, working with and
without the wireguard plugin, and (MariaDB only) two wgmd processes on one
database allocating from one pool at once."""
import os
import re
import threading
import time

import pytest

from conftest import BACKEND, PREFIX, Wgmd, assert_error, fresh_mysql_url
from test_auth import make_user

PLUGIN = os.path.join(PREFIX, "lib", "wgm", "plugins", "ipv6pool.so")
WG_PLUGIN = os.path.join(PREFIX, "lib", "wgm", "plugins", "wireguard.so")
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
EXACT = 2 ** 53

pytestmark = pytest.mark.skipif(not os.path.exists(PLUGIN), reason="ipv6pool.so is not installed in " + PREFIX)


def dropin(quarantine=2, expire_ms=200, status_ms=200):
    return {"60-ipv6pool.conf": "[ipv6pool]\nenabled = yes\nquarantine_seconds = %d\nexpire_interval_ms = %d\n"
                                "status_interval_ms = %d\n" % (quarantine, expire_ms, status_ms)}


@pytest.fixture
def env(daemons):
    d = daemons(plugins=[PLUGIN], dropins=dropin())
    return d, d.login()


def expect(missing):
    """(status, code) of a refused body: absent required fields are 400."""
    return (400, "MISSING_PARAMETER") if missing else (422, "VALIDATION_ERROR")


def post_pool(d, tok, **kw):
    body = {"name": "p1", "prefix": "2001:db8::/48", "prefix_length": 64}
    body.update(kw)
    body = {k: v for k, v in body.items() if v is not None}
    return d.call("POST", "/ipv6/pools", token=tok, json=body)


def mk_pool(d, tok, **kw):
    r = post_pool(d, tok, **kw)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def post_alloc(d, tok, pool_id, **kw):
    body = {"pool_id": pool_id}
    body.update(kw)
    return d.call("POST", "/ipv6/allocations", token=tok, json=body)


def mk_alloc(d, tok, pool_id, **kw):
    r = post_alloc(d, tok, pool_id, **kw)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def get_pool(d, tok, pid):
    r = d.call("GET", "/ipv6/pools/%d" % pid, token=tok)
    assert r.status_code == 200, r.text
    return r.json()["data"]


# ----------------------------------------------------------------- pools --

def test_pool_create_shape(env):
    d, admin = env
    p = mk_pool(d, admin, name="pool1", description="main pool", auto_assign=True, reserved_prefixes=100)
    assert p["name"] == "pool1" and p["prefix"] == "2001:db8::/48" and p["prefix_length"] == 64
    assert p["total_prefixes"] == 65536 and p["allocated_prefixes"] == 0 and p["available_prefixes"] == 65436
    assert p["reserved_prefixes"] == 100 and p["auto_assign"] is True
    assert p["status"] == "active" and p["description"] == "main pool" and p["allocations"] == []
    assert re.fullmatch(TIMESTAMP, p["created_at"]) and re.fullmatch(TIMESTAMP, p["updated_at"])
    assert get_pool(d, admin, p["id"]) == p


def test_pool_prefix_normalised(env):
    d, admin = env
    p = mk_pool(d, admin, prefix="2001:DB8:0000::/48")
    assert p["prefix"] == "2001:db8::/48"
    p = mk_pool(d, admin, name="p2", prefix="fd00::/8", prefix_length=16)
    assert p["total_prefixes"] == 256 and p["reserved_prefixes"] == 0 and p["description"] is None


def test_pool_list_filters_and_pagination(env):
    d, admin = env
    for i in range(5):
        mk_pool(d, admin, name="lp%d" % i, prefix="2001:db8:%x::/48" % i, description="d%d" % i,
                status="disabled" if i == 4 else None)
    r = d.call("GET", "/ipv6/pools?page=2&size=2", token=admin)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [p["name"] for p in data["pools"]] == ["lp2", "lp3"]
    pg = data["pagination"]
    assert pg["page"] == 2 and pg["size"] == 2 and pg["total"] == 5 and pg["pages"] == 3
    names = lambda q: [p["name"] for p in d.call("GET", "/ipv6/pools" + q, token=admin).json()["data"]["pools"]]
    assert names("?status=disabled") == ["lp4"]
    assert names("?status=active") == ["lp0", "lp1", "lp2", "lp3"]
    assert names("?search=lp1") == ["lp1"]
    assert names("?search=2001:db8:3::") == ["lp3"]
    assert names("?search=%25") == []  # LIKE wildcards are literal
    for q, field in (("?page=0", "page"), ("?size=1000", "size"), ("?status=gone", "status"),
                     ("?search=" + "x" * 101, "search")):
        err = assert_error(d.call("GET", "/ipv6/pools" + q, token=admin), 422, "VALIDATION_ERROR")
        assert field in err["details"], (q, err)


def test_pool_list_shows_allocations(env):
    d, admin = env
    p = mk_pool(d, admin)
    a = mk_alloc(d, admin, p["id"], client_name="client1")
    pools = d.call("GET", "/ipv6/pools", token=admin).json()["data"]["pools"]
    assert len(pools) == 1 and pools[0]["allocated_prefixes"] == 1 and pools[0]["available_prefixes"] == 65535
    (x,) = pools[0]["allocations"]
    assert x["id"] == a["id"] and x["client_name"] == "client1" and x["allocated_prefix"] == "2001:db8::/64"
    assert x["status"] == "active" and re.fullmatch(TIMESTAMP, x["allocated_at"])


@pytest.mark.parametrize("body,field", [
    ({"name": None}, "name"),
    ({"name": ""}, "name"),
    ({"name": "bad name"}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"name": 7}, "name"),
    ({"prefix": None}, "prefix"),
    ({"prefix": "2001:db8::"}, "prefix"),            # no length
    ({"prefix": "10.0.0.0/8"}, "prefix"),            # IPv4
    ({"prefix": "::ffff:10.0.0.0/104"}, "prefix"),   # IPv4-mapped
    ({"prefix": "2001:db8::1/48"}, "prefix"),        # host bits
    ({"prefix": "2001:db8::/129"}, "prefix"),
    ({"prefix": "2001:db8::/128"}, "prefix"),        # nothing to carve
    ({"prefix": "2001:zz8::/48"}, "prefix"),
    ({"prefix": " 2001:db8::/48"}, "prefix"),
    ({"prefix": 48}, "prefix"),
    ({"prefix_length": None}, "prefix_length"),
    ({"prefix_length": 48}, "prefix_length"),        # not longer than the pool
    ({"prefix_length": 40}, "prefix_length"),
    ({"prefix_length": 129}, "prefix_length"),
    ({"prefix_length": 0}, "prefix_length"),
    ({"prefix_length": "64"}, "prefix_length"),
    ({"prefix_length": 64.5}, "prefix_length"),
    ({"description": "x" * 501}, "description"),
    ({"auto_assign": "yes"}, "auto_assign"),
    ({"reserved_prefixes": -1}, "reserved_prefixes"),
    ({"reserved_prefixes": 65537}, "reserved_prefixes"),
    ({"reserved_prefixes": "12x"}, "reserved_prefixes"),
    ({"reserved_prefixes": 1.5}, "reserved_prefixes"),
    ({"status": "paused"}, "status"),
    ({"colour": "red"}, "colour"),
])
def test_pool_validation(env, body, field):
    d, admin = env
    # an absent required field is 400 MISSING_PARAMETER, a bad value 422
    missing = any(v is None for v in body.values())
    err = assert_error(post_pool(d, admin, **body), *expect(missing))
    assert field in err["details"], err
    assert d.call("GET", "/ipv6/pools", token=admin).json()["data"]["pagination"]["total"] == 0


def test_pool_body_must_be_object(env):
    d, admin = env
    err = assert_error(d.call("POST", "/ipv6/pools", token=admin, json=[1]), 422, "VALIDATION_ERROR")
    assert "body" in err["details"]


def test_pool_absent_body_is_missing(env):
    d, admin = env
    err = assert_error(d.call("POST", "/ipv6/pools", token=admin), 400, "MISSING_PARAMETER")
    assert "body" in err["details"]
    err = assert_error(d.call("POST", "/ipv6/allocations", token=admin, json=[1]), 422, "VALIDATION_ERROR")
    assert list(err["details"]) == ["body"], err  # not also "pool_id is required"


def test_success_messages(env):
    """Creates and releases carry a message, English or Chinese as asked."""
    d, admin = env
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    r = d.call("POST", "/ipv6/pools", token=admin, json={"name": "p1", "prefix": "2001:db8::/48", "prefix_length": 64})
    assert r.status_code == 201 and r.json()["message"] == "IPv6 pool created", r.text
    pid = r.json()["data"]["id"]
    r = d.call("POST", "/ipv6/allocations", token=admin, json={"pool_id": pid, "client_name": "c2"}, headers=zh)
    assert r.status_code == 201 and r.json()["message"] == "IPv6前缀分配成功", r.text
    aid = r.json()["data"]["id"]
    r = d.call("POST", "/ipv6/allocations", token=admin, json={"pool_id": pid})
    assert r.status_code == 201 and r.json()["message"] == "IPv6 prefix allocated", r.text
    r = d.call("DELETE", "/ipv6/allocations/%d" % aid, token=admin)
    assert r.status_code == 200 and r.json()["message"] == "IPv6 prefix released", r.text
    r = d.call("PUT", "/ipv6/pools/%d" % pid, token=admin, json={"description": "x"}, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "IPv6前缀池更新成功", r.text
    r = d.call("DELETE", "/ipv6/pools/%d?force=true" % pid, token=admin)
    assert r.status_code == 200 and r.json()["message"] == "IPv6 pool deleted", r.text


def test_pool_reserved_all_is_allowed_and_full(env):
    d, admin = env
    p = mk_pool(d, admin, prefix="2001:db8::/62", reserved_prefixes=4)
    assert p["total_prefixes"] == 4 and p["available_prefixes"] == 0
    err = assert_error(post_alloc(d, admin, p["id"]), 409, "POOL_EXHAUSTED")
    assert "pool_id" in err["details"]


def test_pool_overlap_409(env):
    d, admin = env
    a = mk_pool(d, admin, name="a", prefix="2001:db8::/48")
    for name, prefix in (("same", "2001:db8::/48"), ("inner", "2001:db8:0:100::/56"), ("outer", "2001:db8::/32"),
                         ("all", "::/0")):
        err = assert_error(post_pool(d, admin, name=name, prefix=prefix, prefix_length=64), 409, "POOL_OVERLAP")
        assert "prefix" in err["details"] and err["details"]["pool_id"] == a["id"]
    mk_pool(d, admin, name="next", prefix="2001:db8:1::/48")  # adjacent is fine
    err = assert_error(post_pool(d, admin, name="a", prefix="2001:db8:2::/48"), 409, "RESOURCE_ALREADY_EXISTS")
    assert "name" in err["details"]


def test_exact_counts(env):
    d, admin = env
    p32 = mk_pool(d, admin, name="p32", prefix="2001:db8::/32", prefix_length=64)
    assert p32["total_prefixes"] == 4294967296 and p32["available_prefixes"] == 4294967296
    p16 = mk_pool(d, admin, name="p16", prefix="2002::/16", prefix_length=64)
    # 2^48 is below 2^53: still an exact JSON integer
    assert p16["total_prefixes"] == 281474976710656 == 2 ** 48
    p56 = mk_pool(d, admin, name="p56", prefix="2003:0:0:100::/56", prefix_length=64)
    assert p56["total_prefixes"] == 256 and p56["available_prefixes"] == 256
    p8 = mk_pool(d, admin, name="p8", prefix="3000::/8", prefix_length=64, reserved_prefixes=1)
    assert p8["total_prefixes"] == str(2 ** 56) and p8["available_prefixes"] == str(2 ** 56 - 1)
    # the boundary: 2^53 is an integer, 2^54 a string
    pb = mk_pool(d, admin, name="pb", prefix="4000::/8", prefix_length=61)
    assert pb["total_prefixes"] == EXACT and isinstance(pb["total_prefixes"], int)
    pc = mk_pool(d, admin, name="pc", prefix="4100::/8", prefix_length=62)
    assert pc["total_prefixes"] == str(2 ** 54)


def test_exact_counts_whole_space(env):
    """A /0 into /128s: 2^128, and a reserved count as a decimal string."""
    d, admin = env
    pz = mk_pool(d, admin, name="pz", prefix="::/0", prefix_length=128, reserved_prefixes=str(2 ** 100))
    assert pz["total_prefixes"] == str(2 ** 128) and pz["reserved_prefixes"] == str(2 ** 100)
    assert pz["available_prefixes"] == str(2 ** 128 - 2 ** 100)
    a = mk_alloc(d, admin, pz["id"])
    assert a["allocated_prefix"] == "0:10::/128"  # index 2^100: bit 100
    pz = get_pool(d, admin, pz["id"])
    assert pz["available_prefixes"] == str(2 ** 128 - 2 ** 100 - 1) and pz["allocated_prefixes"] == 1


def test_pool_update(env):
    d, admin = env
    p = mk_pool(d, admin)
    r = d.call("PUT", "/ipv6/pools/%d" % p["id"], token=admin,
               json={"name": "renamed", "description": "new", "auto_assign": False, "reserved_prefixes": 10,
                     "status": "disabled"})
    assert r.status_code == 200, r.text
    u = r.json()["data"]
    assert u["name"] == "renamed" and u["description"] == "new" and u["auto_assign"] is False
    assert u["reserved_prefixes"] == 10 and u["status"] == "disabled" and u["available_prefixes"] == 65526
    assert u["prefix"] == p["prefix"] and u["created_at"] == p["created_at"]
    # geometry may change while the pool is empty
    r = d.call("PUT", "/ipv6/pools/%d" % p["id"], token=admin,
               json={"prefix": "2001:db8:5::/48", "prefix_length": 56, "status": "active", "auto_assign": True})
    assert r.status_code == 200, r.text
    u = r.json()["data"]
    assert u["prefix"] == "2001:db8:5::/48" and u["total_prefixes"] == 256 and u["available_prefixes"] == 246
    a = mk_alloc(d, admin, p["id"])
    assert a["allocated_prefix"] == "2001:db8:5:a00::/56"  # index 10, after the reserved
    # not once it has allocations
    err = assert_error(d.call("PUT", "/ipv6/pools/%d" % p["id"], token=admin, json={"prefix_length": 64}), 409,
                       "POOL_IN_USE")
    assert "allocations" in err["details"]
    # validation on update
    for body, field in (({"prefix_length": 40}, "prefix_length"), ({"reserved_prefixes": 257}, "reserved_prefixes"),
                        ({"name": "bad name"}, "name"), ({"status": "x"}, "status"), ({"other": 1}, "other")):
        err = assert_error(d.call("PUT", "/ipv6/pools/%d" % p["id"], token=admin, json=body), 422, "VALIDATION_ERROR")
        assert field in err["details"], (body, err)
    other = mk_pool(d, admin, name="other", prefix="2001:db8:6::/48")
    err = assert_error(d.call("PUT", "/ipv6/pools/%d" % other["id"], token=admin, json={"prefix": "2001:db8::/32"}),
                       409, "POOL_OVERLAP")
    assert err["details"]["pool_id"] == p["id"]
    assert_error(d.call("PUT", "/ipv6/pools/%d" % other["id"], token=admin, json={"name": "renamed"}), 409,
                 "RESOURCE_ALREADY_EXISTS")
    assert_error(d.call("PUT", "/ipv6/pools/9999", token=admin, json={"name": "x"}), 404, "RESOURCE_NOT_FOUND")


def test_pool_delete(env):
    d, admin = env
    p = mk_pool(d, admin)
    mk_alloc(d, admin, p["id"])
    err = assert_error(d.call("DELETE", "/ipv6/pools/%d" % p["id"], token=admin), 409, "POOL_IN_USE")
    assert err["details"]["allocated_prefixes"] == 1
    assert_error(d.call("DELETE", "/ipv6/pools/%d?force=maybe" % p["id"], token=admin), 422, "VALIDATION_ERROR")
    r = d.call("DELETE", "/ipv6/pools/%d?force=true" % p["id"], token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"id": p["id"], "deleted": True, "allocations_released": 1}
    assert_error(d.call("GET", "/ipv6/pools/%d" % p["id"], token=admin), 404, "RESOURCE_NOT_FOUND")
    assert d.call("GET", "/ipv6/allocations", token=admin).json()["data"]["allocations"] == []
    assert_error(d.call("DELETE", "/ipv6/pools/%d" % p["id"], token=admin), 404, "RESOURCE_NOT_FOUND")
    # the prefix is free again
    mk_pool(d, admin)


def test_not_found(env):
    d, admin = env
    for path in ("/ipv6/pools/9999", "/ipv6/pools/abc", "/ipv6/pools/0", "/ipv6/allocations/9999",
                 "/ipv6/allocations/x"):
        assert_error(d.call("GET", path, token=admin), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("DELETE", "/ipv6/allocations/9999", token=admin), 404, "RESOURCE_NOT_FOUND")


def test_permissions(env):
    d, admin = env
    p = mk_pool(d, admin)
    make_user(d, admin, "viewer")  # role user: ipv6.view, not ipv6.edit
    tok = d.login("viewer", password=__import__("test_auth").STRONG)
    assert d.call("GET", "/ipv6/pools", token=tok).status_code == 200
    assert d.call("GET", "/ipv6/allocations", token=tok).status_code == 200
    assert_error(post_pool(d, tok, name="x", prefix="2001:db8:9::/48"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(post_alloc(d, tok, p["id"]), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(d.call("DELETE", "/ipv6/pools/%d" % p["id"], token=tok), 403, "INSUFFICIENT_PERMISSIONS")
    assert d.call("GET", "/ipv6/pools").status_code == 401


# ------------------------------------------------------------ allocations --

def test_allocation_shape_and_auto_sequence(env):
    d, admin = env
    p = mk_pool(d, admin, prefix="2001:db8:1::/48", reserved_prefixes=3)
    a = mk_alloc(d, admin, p["id"], client_name="client2", description="c2 prefix", auto_assign=True,
                 custom_prefix=None)
    assert set(a) == {"id", "pool_id", "client_id", "client_name", "allocated_prefix", "status", "allocated_at",
                      "expires_at", "description"}
    assert a["pool_id"] == p["id"] and a["client_name"] == "client2" and a["client_id"] is None
    assert a["allocated_prefix"] == "2001:db8:1:3::/64"  # after the 3 reserved
    assert a["status"] == "active" and a["expires_at"] is None and a["description"] == "c2 prefix"
    assert re.fullmatch(TIMESTAMP, a["allocated_at"])
    seq = [mk_alloc(d, admin, p["id"])["allocated_prefix"] for _ in range(3)]
    assert seq == ["2001:db8:1:4::/64", "2001:db8:1:5::/64", "2001:db8:1:6::/64"]
    r = d.call("GET", "/ipv6/allocations/%d" % a["id"], token=admin)
    assert r.status_code == 200 and r.json()["data"] == a
    assert get_pool(d, admin, p["id"])["allocated_prefixes"] == 4


def test_allocation_list_filters(env):
    d, admin = env
    p1 = mk_pool(d, admin, name="a", prefix="2001:db8:1::/48")
    p2 = mk_pool(d, admin, name="b", prefix="2001:db8:2::/48")
    for i in range(3):
        mk_alloc(d, admin, p1["id"], client_name="alice%d" % i)
    mk_alloc(d, admin, p2["id"], client_name="bob", client_id=77)
    lst = lambda q: d.call("GET", "/ipv6/allocations" + q, token=admin).json()["data"]
    assert lst("")["pagination"]["total"] == 4
    assert [a["client_name"] for a in lst("?pool_id=%d" % p1["id"])["allocations"]] == ["alice0", "alice1", "alice2"]
    assert [a["client_name"] for a in lst("?client=bob")["allocations"]] == ["bob"]
    assert [a["client_name"] for a in lst("?client_id=77")["allocations"]] == ["bob"]
    assert lst("?status=active")["pagination"]["total"] == 4
    page = lst("?pool_id=%d&page=2&size=2" % p1["id"])
    assert [a["client_name"] for a in page["allocations"]] == ["alice2"] and page["pagination"]["pages"] == 2
    for q, field in (("?pool_id=x", "pool_id"), ("?client_id=0", "client_id"), ("?status=gone", "status"),
                     ("?size=0", "size")):
        err = assert_error(d.call("GET", "/ipv6/allocations" + q, token=admin), 422, "VALIDATION_ERROR")
        assert field in err["details"], (q, err)


@pytest.mark.parametrize("body,field", [
    ({"pool_id": None}, "pool_id"),
    ({"pool_id": "1"}, "pool_id"),
    ({"pool_id": 0}, "pool_id"),
    ({"client_id": 0}, "client_id"),
    ({"client_id": "x"}, "client_id"),
    ({"client_name": ""}, "client_name"),
    ({"client_name": "x" * 65}, "client_name"),
    ({"description": "x" * 501}, "description"),
    ({"auto_assign": 1}, "auto_assign"),
    ({"auto_assign": False}, "custom_prefix"),
    ({"custom_prefix": "nonsense"}, "custom_prefix"),
    ({"custom_prefix": "2001:db8::"}, "custom_prefix"),
    ({"custom_prefix": 5}, "custom_prefix"),
    ({"custom_prefix": "2001:db8:0:1::/64", "auto_assign": True}, "auto_assign"),
    ({"expires_at": "tomorrow"}, "expires_at"),
    ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
    ({"expires_at": " 2999-01-01T00:00:00Z"}, "expires_at"),
    ({"expires_at": "2999-01-01T00:00:00+01:00"}, "expires_at"),
    ({"custom_prefix": "2001:db8:0:1::/ 64"}, "custom_prefix"),
    ({"custom_prefix": "2001:db8:0:1::/64 "}, "custom_prefix"),
    ({"custom_prefix": "2001:db8:0:1::/064"}, "custom_prefix"),
    ({"unknown": 1}, "unknown"),
])
def test_allocation_validation(env, body, field):
    d, admin = env
    p = mk_pool(d, admin)
    full = {"pool_id": p["id"]}
    full.update(body)
    full = {k: v for k, v in full.items() if v is not None}
    # absent where required (pool_id; custom_prefix with auto_assign false) is 400
    missing = any(v is None for v in body.values()) or body == {"auto_assign": False}
    err = assert_error(d.call("POST", "/ipv6/allocations", token=admin, json=full), *expect(missing))
    assert field in err["details"], err
    assert get_pool(d, admin, p["id"])["allocated_prefixes"] == 0


def test_allocation_unknown_pool(env):
    d, admin = env
    err = assert_error(post_alloc(d, admin, 9999), 422, "VALIDATION_ERROR")
    assert "pool_id" in err["details"]


def test_custom_prefix(env):
    d, admin = env
    p = mk_pool(d, admin, reserved_prefixes=2)
    a = mk_alloc(d, admin, p["id"], custom_prefix="2001:db8:0:10::/64", client_name="fixed")
    assert a["allocated_prefix"] == "2001:db8:0:10::/64"
    # taken
    err = assert_error(post_alloc(d, admin, p["id"], custom_prefix="2001:db8:0:10::/64"), 409, "PREFIX_IN_USE")
    assert "custom_prefix" in err["details"]
    # reserved
    err = assert_error(post_alloc(d, admin, p["id"], custom_prefix="2001:db8:0:1::/64"), 409, "PREFIX_RESERVED")
    assert "custom_prefix" in err["details"]
    # outside, misaligned, wrong length
    for prefix in ("2001:db9::/64", "2001:db8:1::/64", "2001:db8:0:10::1/64", "2001:db8:0:10::/60",
                   "2001:db8:0:10::/72"):
        err = assert_error(post_alloc(d, admin, p["id"], custom_prefix=prefix), 422, "VALIDATION_ERROR")
        assert "custom_prefix" in err["details"], (prefix, err)
    # the counter skips what was taken by name
    seq = [mk_alloc(d, admin, p["id"], custom_prefix="2001:db8:0:3::/64")["allocated_prefix"]]
    seq += [mk_alloc(d, admin, p["id"])["allocated_prefix"] for _ in range(2)]
    assert seq == ["2001:db8:0:3::/64", "2001:db8:0:2::/64", "2001:db8:0:4::/64"]


def test_pool_full_and_disabled(env):
    d, admin = env
    p = mk_pool(d, admin, prefix="2001:db8::/62", reserved_prefixes=1)
    got = [mk_alloc(d, admin, p["id"])["allocated_prefix"] for _ in range(3)]
    assert got == ["2001:db8:0:1::/64", "2001:db8:0:2::/64", "2001:db8:0:3::/64"]
    err = assert_error(post_alloc(d, admin, p["id"]), 409, "POOL_EXHAUSTED")
    assert err["details"]["id"] == p["id"]
    assert get_pool(d, admin, p["id"])["available_prefixes"] == 0
    q = mk_pool(d, admin, name="off", prefix="2001:db8:1::/48", status="disabled")
    assert_error(post_alloc(d, admin, q["id"]), 409, "POOL_DISABLED")
    r = mk_pool(d, admin, name="manual", prefix="2001:db8:2::/48", auto_assign=False)
    # this pool needs custom_prefix, and it is absent: 400
    err = assert_error(post_alloc(d, admin, r["id"]), 400, "MISSING_PARAMETER")
    assert "custom_prefix" in err["details"]
    assert mk_alloc(d, admin, r["id"], custom_prefix="2001:db8:2:7::/64")["allocated_prefix"] == "2001:db8:2:7::/64"


def test_release_quarantine_reuse(env):
    d, admin = env  # quarantine_seconds = 2
    p = mk_pool(d, admin)
    a = mk_alloc(d, admin, p["id"])
    b = mk_alloc(d, admin, p["id"])
    assert a["allocated_prefix"] == "2001:db8::/64"
    r = d.call("DELETE", "/ipv6/allocations/%d" % a["id"], token=admin)
    assert r.status_code == 200, r.text
    rel = r.json()["data"]
    assert rel["id"] == a["id"] and rel["status"] == "released" and rel["allocated_prefix"] == a["allocated_prefix"]
    assert re.fullmatch(TIMESTAMP, rel["released_at"])
    assert_error(d.call("GET", "/ipv6/allocations/%d" % a["id"], token=admin), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("DELETE", "/ipv6/allocations/%d" % a["id"], token=admin), 404, "RESOURCE_NOT_FOUND")
    pool = get_pool(d, admin, p["id"])
    assert pool["allocated_prefixes"] == 1 and pool["available_prefixes"] == 65535
    # in quarantine: the counter moves on
    c = mk_alloc(d, admin, p["id"])
    assert c["allocated_prefix"] == "2001:db8:0:2::/64"
    time.sleep(3.2)
    e = mk_alloc(d, admin, p["id"])
    assert e["allocated_prefix"] == "2001:db8::/64"  # reused after the quarantine
    assert b["allocated_prefix"] == "2001:db8:0:1::/64"
    # a named prefix may be taken back at once, quarantine or not
    d.call("DELETE", "/ipv6/allocations/%d" % c["id"], token=admin)
    f = mk_alloc(d, admin, p["id"], custom_prefix="2001:db8:0:2::/64")
    assert f["allocated_prefix"] == "2001:db8:0:2::/64"


def test_expiry_releases(env):
    d, admin = env  # expire_interval_ms = 200
    p = mk_pool(d, admin)
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    a = mk_alloc(d, admin, p["id"], expires_at=soon)
    b = mk_alloc(d, admin, p["id"], expires_at=later)
    assert a["expires_at"] == soon and b["expires_at"] == later
    deadline = time.time() + 10
    while time.time() < deadline:
        if d.call("GET", "/ipv6/allocations/%d" % a["id"], token=admin).status_code == 404:
            break
        time.sleep(0.2)
    else:
        pytest.fail("allocation %d did not expire" % a["id"])
    assert d.call("GET", "/ipv6/allocations/%d" % b["id"], token=admin).status_code == 200
    assert get_pool(d, admin, p["id"])["allocated_prefixes"] == 1
    d.wait_log(r"released 1 expired allocation")


def test_status_timer_runs(env):
    """ipv6_status is published on its timer; the WebSocket does not push
    that type, so this only checks that publishing on a timer with pools of
    every size keeps the daemon healthy."""
    d, admin = env
    mk_pool(d, admin, name="big", prefix="8000::/1", prefix_length=128)
    mk_pool(d, admin, name="small", prefix="2001:db8::/48")
    time.sleep(1)
    assert d.proc.poll() is None
    assert d.call("GET", "/ipv6/pools", token=admin).status_code == 200


# ------------------------------------------------------ with wireguard --

@pytest.mark.skipif(not os.path.exists(WG_PLUGIN), reason="wireguard.so is not installed")
def test_with_wireguard_client(daemons):
    d = daemons(plugins=[PLUGIN, WG_PLUGIN], dropins=dropin())
    admin = d.login()
    r = d.call("POST", "/wireguard/servers", token=admin,
               json={"name": "v6t" + os.urandom(3).hex(), "listen_port": 51900, "ipv4_address": "10.77.0.1/24"})
    assert r.status_code == 201, r.text
    srv = r.json()["data"]
    r = d.call("POST", "/wireguard/clients", token=admin, json={"name": "wgc", "server_id": srv["id"]})
    assert r.status_code == 201, r.text
    cl = r.json()["data"]
    p = mk_pool(d, admin)
    a = mk_alloc(d, admin, p["id"], client_id=cl["id"])
    assert a["client_id"] == cl["id"] and a["client_name"] == "wgc"  # the label defaults to the client's name
    a2 = mk_alloc(d, admin, p["id"], client_id=cl["id"], client_name="label")
    assert a2["client_name"] == "label"
    err = assert_error(post_alloc(d, admin, p["id"], client_id=cl["id"] + 1000), 422, "VALIDATION_ERROR")
    assert "client_id" in err["details"]
    assert d.call("DELETE", "/ipv6/allocations/%d" % a["id"], token=admin).status_code == 200
    assert d.proc.poll() is None


def test_without_wireguard(env):
    """No wireguard plugin: a client_id is kept as given."""
    d, admin = env
    p = mk_pool(d, admin)
    a = mk_alloc(d, admin, p["id"], client_id=5, client_name="remote")
    assert a["client_id"] == 5 and a["client_name"] == "remote"
    assert d.call("DELETE", "/ipv6/allocations/%d" % a["id"], token=admin).status_code == 200


# ------------------------------------------------ two processes, MariaDB --

@pytest.mark.skipif(BACKEND != "mysql", reason="needs one shared MariaDB database")
def test_two_processes_race(daemons):
    url = fresh_mysql_url()
    shared = {"WGM_DATABASE_URL": url, "WGM_CACHE_URL": os.environ["WGM_TEST_REDIS_URL"]}
    d1 = daemons(plugins=[PLUGIN], dropins=dropin(), env=shared)
    d2 = daemons(plugins=[PLUGIN], dropins=dropin(), env=shared)
    t1, t2 = d1.login(), d2.login()
    p = mk_pool(d1, t1, prefix="2001:db8::/48")
    got, errors = [], []
    lock = threading.Lock()

    def worker(d, tok):
        for _ in range(100):
            r = post_alloc(d, tok, p["id"])
            with lock:
                if r.status_code == 201:
                    got.append(r.json()["data"]["allocated_prefix"])
                else:
                    errors.append(r.text)

    threads = [threading.Thread(target=worker, args=(d, t)) for d, t in ((d1, t1), (d1, t1), (d2, t2), (d2, t2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    assert len(got) == 400 and len(set(got)) == 400
    expected = {"2001:db8:0:%x::/64" % i if i else "2001:db8::/64" for i in range(400)}
    assert set(got) == expected  # dense: nothing skipped
    assert get_pool(d2, t2, p["id"])["allocated_prefixes"] == 400
