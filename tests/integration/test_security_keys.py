"""Security of keys, limits and addresses (issue 12, issue 11's rate-limit
headers): the subset rule for roles and grants, API keys bound by their
owner's budget and capped in number, one bucket per header set, strict
address lists with IPv4-mapped and IPv6 peers, and security.ip_whitelist."""
import http.client
import json
import math
import time

import pytest
import requests

from conftest import assert_error
from test_auth import STRONG, make_user


@pytest.fixture
def env(daemons):
    d = daemons()
    return d, d.login()


def new_key(d, token, **body):
    body.setdefault("name", "k")
    r = d.call("POST", "/auth/api-keys", token=token, json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def put_config(d, admin, body):
    return d.call("PUT", "/system/config", token=admin, json=body)


def from_source(d, source, method, path, token=None, body=None):
    """A request to wgmd (on 127.0.0.1) sent from another loopback address."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10, source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        c.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


# --- the subset rule: nobody hands out what they do not hold ------------------

@pytest.fixture
def helper(env):
    """A `user` granted only users.edit (on top of the user defaults)."""
    d, admin = env
    make_user(d, admin, "helper", role="user", permissions=["users.edit"])
    return d, admin, d.login("helper", STRONG)


def test_users_edit_cannot_make_a_manager(helper):
    d, admin, tok = helper
    body = {"username": "mone", "email": "mone@example.com", "password": STRONG, "role": "manager"}
    err = assert_error(d.call("POST", "/users", token=tok, json=body), 403, "INSUFFICIENT_PERMISSIONS")
    assert "role" in err["details"]
    body["role"] = "admin"
    assert "role" in assert_error(d.call("POST", "/users", token=tok, json=body), 403,
                                  "INSUFFICIENT_PERMISSIONS")["details"]
    # a plain user is within what the helper holds
    plain = make_user(d, tok, "plain", role="user")
    assert plain["role"] == "user"
    err = assert_error(d.call("PUT", "/users/%d" % plain["id"], token=tok, json={"role": "manager"}), 403,
                       "INSUFFICIENT_PERMISSIONS")
    assert "role" in err["details"]
    assert d.call("GET", "/users/%d" % plain["id"], token=admin).json()["data"]["role"] == "user"
    assert d.call("PUT", "/users/%d" % plain["id"], token=tok, json={"full_name": "Plain"}).status_code == 200


def test_users_edit_cannot_grant_more_than_it_holds(helper):
    d, admin, tok = helper
    body = {"username": "gone", "email": "gone@example.com", "password": STRONG, "permissions": ["wireguard.edit"]}
    err = assert_error(d.call("POST", "/users", token=tok, json=body), 403, "INSUFFICIENT_PERMISSIONS")
    assert "permissions" in err["details"]
    plain = make_user(d, tok, "plain2")
    for grant in (["wireguard.edit"], ["wireguard.*"], ["*"], ["system.edit"]):
        err = assert_error(d.call("PUT", "/users/%d" % plain["id"], token=tok, json={"permissions": grant}), 403,
                           "INSUFFICIENT_PERMISSIONS")
        assert "permissions" in err["details"]
    # what it holds it may pass on
    r = d.call("PUT", "/users/%d" % plain["id"], token=tok, json={"permissions": ["users.edit"]})
    assert r.status_code == 200 and "users.edit" in r.json()["data"]["permissions"]


def test_users_edit_cannot_touch_someone_who_holds_more(helper):
    d, admin, tok = helper
    mgr = make_user(d, admin, "boss", role="manager")
    uid = mgr["id"]
    err = assert_error(d.call("PUT", "/users/%d" % uid, token=tok, json={"full_name": "x"}), 403,
                       "INSUFFICIENT_PERMISSIONS")
    assert err["details"]["reason"] == "target_outranks_you"
    # a reset would hand the manager's powers to whoever sets the password
    assert_error(d.call("POST", "/users/%d/reset-password" % uid, token=tok,
                        json={"new_password": STRONG + "2", "force_change": False}), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(d.call("PUT", "/users/%d" % uid, token=tok, json={"status": "suspended"}), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_error(d.call("DELETE", "/users/%d" % uid, token=tok), 403, "INSUFFICIENT_PERMISSIONS")
    assert d.login("boss", STRONG)  # untouched
    # an admin still may
    assert d.call("PUT", "/users/%d" % uid, token=admin, json={"full_name": "Boss"}).status_code == 200


def test_api_key_of_an_admin_is_bound_by_its_own_permissions(env):
    d, admin = env
    k = new_key(d, admin, permissions=["users.edit", "users.view"], access_level="write")["api_key"]
    body = {"username": "viakey", "email": "viakey@example.com", "password": STRONG, "role": "admin"}
    assert "role" in assert_error(d.call("POST", "/users", token=k, json=body), 403,
                                  "INSUFFICIENT_PERMISSIONS")["details"]
    body["role"] = "user"  # the user role's defaults are not in the key either
    assert "role" in assert_error(d.call("POST", "/users", token=k, json=body), 403,
                                  "INSUFFICIENT_PERMISSIONS")["details"]
    body["role"] = "manager"
    assert_error(d.call("POST", "/users", token=k, json=body), 403, "INSUFFICIENT_PERMISSIONS")
    # nor may it change the admin who owns it
    me = d.call("GET", "/users/me", token=admin).json()["data"]["id"]
    assert_error(d.call("PUT", "/users/%d" % me, token=k, json={"full_name": "x"}), 403, "INSUFFICIENT_PERMISSIONS")


def test_api_key_permissions_follow_the_same_rule(helper):
    d, admin, tok = helper
    err = assert_error(d.call("POST", "/auth/api-keys", token=tok, json={"name": "k", "permissions": ["wireguard.edit"]}),
                       422, "VALIDATION_ERROR")
    assert "permissions" in err["details"]
    err = assert_error(d.call("POST", "/auth/api-keys", token=tok, json={"name": "k", "permissions": ["users.*"]}),
                       422, "VALIDATION_ERROR")
    assert "permissions" in err["details"]
    k = new_key(d, tok, permissions=["users.edit"])
    assert k["permissions"] == ["users.edit"]


# --- API keys within their owner's budget -------------------------------------

def test_key_rate_above_owner_limit_refused(env):
    d, admin = env
    assert put_config(d, admin, {"api_rate_limit": 50}).status_code == 200
    for rl, field in (({"requests_per_minute": 51}, "rate_limit.requests_per_minute"),
                      ({"requests_per_minute": 100000}, "rate_limit.requests_per_minute"),
                      ({"requests_per_minute": 10, "burst_limit": 101}, "rate_limit.burst_limit"),
                      ({"requests_per_minute": "fast"}, "rate_limit.requests_per_minute"),
                      ({"requests_per_minute": 10, "colour": 1}, "rate_limit.colour"),
                      ("fast", "rate_limit")):
        err = assert_error(d.call("POST", "/auth/api-keys", token=admin, json={"name": "k", "rate_limit": rl}), 422,
                           "VALIDATION_ERROR")
        assert field in err["details"], (rl, err)
    k = new_key(d, admin, rate_limit={"requests_per_minute": 50, "burst_limit": 100})
    assert k["rate_limit"] == {"requests_per_minute": 50, "burst_limit": 100}
    # without a rate_limit a key gets the owner's limit
    assert new_key(d, admin)["rate_limit"]["requests_per_minute"] == 50


def test_keys_and_tokens_share_the_owner_bucket(env):
    d, admin = env
    make_user(d, admin, "owner")
    make_user(d, admin, "other")
    assert put_config(d, admin, {"api_rate_limit": 10}).status_code == 200
    tok = d.login("owner", STRONG)  # anonymous bucket, not the user's
    a = new_key(d, tok)["api_key"]  # each create takes one of the owner's 10
    b = new_key(d, tok)["api_key"]
    t0 = time.time()
    allowed, last = 0, None
    for i in range(30):
        last = d.call("GET", "/users/me", token=(a, b, tok)[i % 3])
        allowed += last.status_code == 200
    # 10/min: a token per 6 s may come back while the loop runs
    refill = math.ceil((time.time() - t0) * 10 / 60.0)
    # each key alone could pass 10, the token another 8: together only the
    # owner's 8 left
    assert 8 <= allowed <= 8 + refill, (allowed, refill)
    err = assert_error(last, 429, "RATE_LIMIT_EXCEEDED")
    assert err["details"]["limit"] == 10
    assert last.headers["X-RateLimit-Limit"] == "10" and last.headers["X-RateLimit-Per-Minute"] == "10"
    # another user's budget is untouched
    assert d.call("GET", "/users/me", token=d.login("other", STRONG)).status_code == 200


def test_key_refused_by_its_own_bucket_spares_the_owner(env):
    d, admin = env
    make_user(d, admin, "frugal")
    assert put_config(d, admin, {"api_rate_limit": 60}).status_code == 200  # a token a second
    tok = d.login("frugal", STRONG)
    t0 = time.time()
    k = new_key(d, tok, rate_limit={"requests_per_minute": 2, "burst_limit": 2})["api_key"]
    codes = [d.call("GET", "/users/me", token=k).status_code for _ in range(6)]
    assert codes[:2] == [200, 200] and set(codes[2:]) == {429}
    r = d.call("GET", "/users/me", token=tok)
    assert r.status_code == 200
    # the owner's 60 paid for the create, the key's two passes and this
    # call, nothing for the four refusals (plus what refilled meanwhile)
    refill = math.ceil(time.time() - t0)
    assert 56 <= int(r.headers["X-RateLimit-Remaining"]) <= 56 + refill, (r.headers, refill)


# --- X-RateLimit-Limit and -Remaining describe one bucket ----------------------

def check_headers(r, limit, per_minute):
    h = r.headers
    assert h["X-RateLimit-Limit"] == str(limit), dict(h)
    assert h["X-RateLimit-Per-Minute"] == str(per_minute), dict(h)
    assert 0 <= int(h["X-RateLimit-Remaining"]) < limit


def test_headers_describe_one_bucket(env):
    d, admin = env
    # the spec's example key: 1000/min, burst 2000; the owner's bucket (1000) is the tighter
    spec = new_key(d, admin, rate_limit={"requests_per_minute": 1000, "burst_limit": 2000})["api_key"]
    check_headers(d.call("GET", "/users/me", token=spec), 1000, 1000)
    # a key narrower than its owner: its own bucket, capacity = burst
    narrow = new_key(d, admin, rate_limit={"requests_per_minute": 100, "burst_limit": 200})["api_key"]
    r = d.call("GET", "/users/me", token=narrow)
    check_headers(r, 200, 100)
    assert r.headers["X-RateLimit-Remaining"] == "199"
    check_headers(d.call("GET", "/users/me", token=admin), 1000, 1000)
    check_headers(d.get("/version"), 100, 100)
    r = requests.get(d.url + "/api/v1/nope", timeout=10)
    check_headers(r, 100, 100)


# --- the per-user cap on API keys ---------------------------------------------

def test_key_cap_per_user(env):
    d, admin = env
    for bad in (0, -1, 10001, "50", None):
        err = assert_error(put_config(d, admin, {"security": {"max_api_keys_per_user": bad}}), 422,
                           "VALIDATION_ERROR")
        assert "security.max_api_keys_per_user" in err["details"]
    assert d.call("GET", "/system/config", token=admin).json()["data"]["security"]["max_api_keys_per_user"] == 50
    assert put_config(d, admin, {"security": {"max_api_keys_per_user": 3}}).status_code == 200
    keys = [new_key(d, admin) for _ in range(3)]
    err = assert_error(d.call("POST", "/auth/api-keys", token=admin, json={"name": "k"}), 409, "RESOURCE_CONFLICT")
    assert err["details"]["limit"] == 3 and "api_keys" in err["details"]
    # a revoked key frees its place
    assert d.call("DELETE", "/auth/api-keys/" + keys[0]["id"], token=admin).status_code == 200
    new_key(d, admin)
    assert_error(d.call("POST", "/auth/api-keys", token=admin, json={"name": "k"}), 409, "RESOURCE_CONFLICT")
    # another user has a cap of their own
    make_user(d, admin, "keyholder", role="manager")
    new_key(d, d.login("keyholder", STRONG))


def test_revoked_keys_stay_bounded(env):
    d, admin = env
    assert put_config(d, admin, {"security": {"max_api_keys_per_user": 2}}).status_code == 200
    for _ in range(6):
        k = new_key(d, admin)
        assert d.call("DELETE", "/auth/api-keys/" + k["id"], token=admin).status_code == 200
    listed = d.call("GET", "/auth/api-keys", token=admin).json()["data"]["api_keys"]
    # never more than the cap of dead keys plus the cap of live ones
    assert len(listed) <= 2 * 2, listed
    assert all(x["status"] == "revoked" for x in listed)


# --- strict address lists, IPv4-mapped and IPv6 peers -------------------------

@pytest.mark.parametrize("entry", [" 127.0.0.1/32", "127.0.0.1/32 ", "127.0.0.1/+32", "127.0.0.1/032",
                                   "127.0.0.1/32x", "127.0.0.1/", "127.0.0.1\n", "::1/ 128", "[::1]", "fe80::1%lo",
                                   "0127.0.0.1", "127.0.0.1/4294967328"])
def test_allowed_ips_strict(env, entry):
    d, admin = env
    err = assert_error(d.call("POST", "/auth/api-keys", token=admin, json={"name": "k", "allowed_ips": [entry]}), 422,
                       "VALIDATION_ERROR")
    assert "allowed_ips" in err["details"]


def test_allowed_ips_ipv4_mapped_rule(env):
    d, admin = env
    k = new_key(d, admin, allowed_ips=["::ffff:127.0.0.0/104"])["api_key"]
    assert d.call("GET", "/users/me", token=k).status_code == 200  # the IPv4 peer 127.0.0.1
    k = new_key(d, admin, allowed_ips=["::ffff:10.0.0.0/104"])["api_key"]
    assert_error(d.call("GET", "/users/me", token=k), 403, "INSUFFICIENT_PERMISSIONS")


def test_ipv6_peer(daemons):
    d = daemons(listen="[::1]:0")
    url = "http://[::1]:%d/api/v1" % d.port

    def call(method, path, token=None, **kw):
        h = {"Authorization": "Bearer " + token} if token else {}
        return requests.request(method, url + path, headers=h, timeout=10, **kw)

    r = call("POST", "/auth/login", json={"username": "admin", "password": d.admin_password})
    assert r.status_code == 200, r.text
    admin = r.json()["data"]["access_token"]
    v4 = call("POST", "/auth/api-keys", admin, json={"name": "v4", "allowed_ips": ["127.0.0.0/8"]}).json()["data"]
    v6 = call("POST", "/auth/api-keys", admin, json={"name": "v6", "allowed_ips": ["::1/128"]}).json()["data"]
    assert_error(call("GET", "/users/me", v4["api_key"]), 403, "INSUFFICIENT_PERMISSIONS")
    assert call("GET", "/users/me", v6["api_key"]).status_code == 200
    # the anonymous bucket of an IPv6 peer (its /64) holds the usual limit;
    # the login took one of its 100
    t0, passed, refused = time.time(), 0, None
    for _ in range(200):
        r = call("GET", "/version")
        if r.status_code == 429:
            refused = r
            break
        passed += 1
    refill = math.ceil((time.time() - t0) * 100 / 60.0)
    assert refused is not None and 99 <= passed <= 99 + refill, (passed, refill)
    assert refused.headers["X-RateLimit-Limit"] == "100"


# --- security.enable_ip_whitelist ---------------------------------------------

def test_ip_whitelist_bad_input(env):
    d, admin = env
    for body, field in (
            ({"enable_ip_whitelist": True}, "security.ip_whitelist"),  # an empty list locks everyone out
            ({"enable_ip_whitelist": True, "ip_whitelist": []}, "security.ip_whitelist"),
            ({"enable_ip_whitelist": True, "ip_whitelist": ["192.0.2.0/24"]}, "security.ip_whitelist"),  # not me
            ({"ip_whitelist": [" 127.0.0.1"]}, "security.ip_whitelist"),
            ({"ip_whitelist": ["127.0.0.1/33"]}, "security.ip_whitelist"),
            ({"ip_whitelist": ["127.0.0.1/8 "]}, "security.ip_whitelist"),
            ({"ip_whitelist": [1]}, "security.ip_whitelist"),
            ({"ip_whitelist": "127.0.0.1"}, "security.ip_whitelist"),
            ({"ip_whitelist": ["10.%d.0.0/16" % i for i in range(65)]}, "security.ip_whitelist"),
            ({"enable_ip_whitelist": "yes"}, "security.enable_ip_whitelist")):
        err = assert_error(put_config(d, admin, {"security": body}), 422, "VALIDATION_ERROR")
        assert field in err["details"], (body, err)
    sec = d.call("GET", "/system/config", token=admin).json()["data"]["security"]
    assert sec["enable_ip_whitelist"] is False and sec["ip_whitelist"] == []
    # a list may be kept while the whitelist is off
    assert put_config(d, admin, {"security": {"ip_whitelist": ["192.0.2.0/24"]}}).status_code == 200


def test_ip_whitelist_refuses_other_addresses(env):
    d, admin = env
    # a non-admin cannot switch it
    make_user(d, admin, "mgr", role="manager")
    assert_error(d.call("PUT", "/system/config", token=d.login("mgr", STRONG),
                        json={"security": {"enable_ip_whitelist": True, "ip_whitelist": ["127.0.0.1/32"]}}), 403,
                 "INSUFFICIENT_PERMISSIONS")
    status, _ = from_source(d, "127.0.0.2", "GET", "/version")
    assert status == 200
    r = put_config(d, admin, {"security": {"enable_ip_whitelist": True,
                                           "ip_whitelist": ["127.0.0.1/32", "2001:db8::/32"]}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["security"]["ip_whitelist"] == ["127.0.0.1/32", "2001:db8::/32"]
    # everything from another address is refused before credentials are read
    for method, path, tok, body in (("GET", "/version", None, None), ("GET", "/health", None, None),
                                    ("POST", "/auth/login", None, {"username": "admin", "password": d.admin_password}),
                                    ("GET", "/users/me", admin, None)):
        status, body = from_source(d, "127.0.0.2", method, path, tok, body)
        assert status == 403, (path, body)
        assert body["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
        assert body["error"]["details"] == {"reason": "ip_not_whitelisted", "client_ip": "127.0.0.2"}
    assert d.get("/version").status_code == 200
    assert d.call("GET", "/users/me", token=admin).status_code == 200
    # emptying the list while it is on would lock everyone out
    assert_error(put_config(d, admin, {"security": {"ip_whitelist": []}}), 422, "VALIDATION_ERROR")
    # the whole loopback /8 in IPv4-mapped form covers 127.0.0.2 too
    assert put_config(d, admin, {"security": {"ip_whitelist": ["::ffff:127.0.0.0/104"]}}).status_code == 200
    assert from_source(d, "127.0.0.2", "GET", "/version")[0] == 200
    assert put_config(d, admin, {"security": {"ip_whitelist": ["127.0.0.1"]}}).status_code == 200
    assert from_source(d, "127.0.0.2", "GET", "/version")[0] == 403
    assert put_config(d, admin, {"security": {"enable_ip_whitelist": False}}).status_code == 200
    assert from_source(d, "127.0.0.2", "GET", "/version")[0] == 200
