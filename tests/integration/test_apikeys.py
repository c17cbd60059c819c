"""API keys: shown once, stored hashed, usable two ways, never more than
the creator, restricted by source address, endpoint and access level."""
import re
import time

import pytest

from conftest import assert_error
from test_auth import STRONG, make_user


@pytest.fixture
def env(daemons):
    d = daemons()
    return d, d.login()


def test_create_shape_and_use(env):
    d, admin = env
    r = d.call("POST", "/auth/api-keys", token=admin, json={
        "name": "monitor", "access_level": "read", "permissions": ["users.view", "system.view"],
        "allowed_ips": ["127.0.0.0/8", "::1/128"], "allowed_endpoints": ["/api/v1/users*", "/api/v1/system/*"],
        "rate_limit": {"requests_per_minute": 100, "burst_limit": 200},
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400)),
        "description": "for monitoring"})
    assert r.status_code == 201, r.text
    k = r.json()["data"]
    assert re.fullmatch(r"ak_[A-Za-z0-9]{10}", k["id"])
    assert re.fullmatch(re.escape(k["id"]) + r"_[A-Za-z0-9]{32}", k["api_key"])
    assert k["status"] == "active" and k["last_used"] is None
    assert k["rate_limit"] == {"requests_per_minute": 100, "burst_limit": 200}
    key = k["api_key"]
    # both header forms
    assert d.request("GET", "/users", headers={"X-API-Key": key}).status_code == 200
    r = d.call("GET", "/users", token=key)
    # the key's own bucket is the tighter one: its capacity (the burst) and rate
    assert r.status_code == 200 and r.headers["X-RateLimit-Limit"] == "200"
    assert r.headers["X-RateLimit-Per-Minute"] == "100" and int(r.headers["X-RateLimit-Remaining"]) < 200
    # the secret is never shown again
    listed = d.call("GET", "/auth/api-keys", token=admin).json()["data"]["api_keys"]
    assert all("api_key" not in x for x in listed) and any(x["id"] == k["id"] for x in listed)
    got = d.call("GET", "/auth/api-keys/" + k["id"], token=admin).json()["data"]
    assert "api_key" not in got
    # last_used is written in batches, not per request
    deadline = time.time() + 15
    while time.time() < deadline and d.call("GET", "/auth/api-keys/" + k["id"], token=admin).json()["data"]["last_used"] is None:
        time.sleep(0.5)
    assert d.call("GET", "/auth/api-keys/" + k["id"], token=admin).json()["data"]["last_used"] is not None


def test_restrictions(env):
    d, admin = env
    def key(**body):
        body.setdefault("name", "k")
        r = d.call("POST", "/auth/api-keys", token=admin, json=body)
        assert r.status_code == 201, r.text
        return r.json()["data"]["api_key"]
    ro = key(access_level="read")
    assert d.call("GET", "/users", token=ro).status_code == 200
    err = assert_error(d.call("POST", "/users", token=ro, json={"username": "x"}), 403, "INSUFFICIENT_PERMISSIONS")
    assert err["details"]["reason"] == "api_key_restriction"
    elsewhere = key(allowed_ips=["192.0.2.0/24", "2001:db8::/32"])
    assert_error(d.call("GET", "/users", token=elsewhere), 403, "INSUFFICIENT_PERMISSIONS")
    narrow = key(allowed_endpoints=["/api/v1/system/*"])
    assert d.call("GET", "/system/info", token=narrow).status_code == 200
    assert_error(d.call("GET", "/users", token=narrow), 403, "INSUFFICIENT_PERMISSIONS")
    scoped = key(permissions=["system.view"])
    assert d.call("GET", "/system/info", token=scoped).status_code == 200
    err = assert_error(d.call("GET", "/users", token=scoped), 403, "INSUFFICIENT_PERMISSIONS")
    assert err["details"]["required"] == "users.view"
    # keys cannot manage keys or second factors: those need a person
    assert_error(d.call("POST", "/auth/api-keys", token=scoped, json={"name": "x"}), 403, "INSUFFICIENT_PERMISSIONS")


def test_never_exceeds_creator(env):
    d, admin = env
    make_user(d, admin, "viewer", role="user")
    tok = d.login("viewer", STRONG)
    r = d.call("POST", "/auth/api-keys", token=tok, json={"name": "k", "permissions": ["users.view"]})
    err = assert_error(r, 422, "VALIDATION_ERROR")
    assert "permissions" in err["details"]
    k = d.call("POST", "/auth/api-keys", token=tok, json={"name": "k", "access_level": "write"}).json()["data"]
    assert "users.view" not in k["permissions"]
    assert_error(d.call("GET", "/users", token=k["api_key"]), 403, "INSUFFICIENT_PERMISSIONS")
    # a key made while the creator held a permission loses it with the creator
    make_user(d, admin, "mgr2", role="manager")
    mtok = d.login("mgr2", STRONG)
    mk = d.call("POST", "/auth/api-keys", token=mtok, json={"name": "k", "permissions": ["users.view"]}).json()["data"]
    assert d.call("GET", "/users", token=mk["api_key"]).status_code == 200
    mid = d.call("GET", "/users/me", token=mtok).json()["data"]["id"]
    assert d.call("PUT", "/users/%d" % mid, token=admin, json={"role": "user"}).status_code == 200
    assert_error(d.call("GET", "/users", token=mk["api_key"]), 403, "INSUFFICIENT_PERMISSIONS")


def test_revoke_and_expiry_and_bad_keys(env):
    d, admin = env
    k = d.call("POST", "/auth/api-keys", token=admin, json={"name": "k"}).json()["data"]
    assert d.call("DELETE", "/auth/api-keys/" + k["id"], token=admin).json()["data"]["status"] == "revoked"
    assert_error(d.call("GET", "/users", token=k["api_key"]), 401, "TOKEN_INVALID")
    assert_error(d.call("DELETE", "/auth/api-keys/ak_doesnotexi", token=admin), 404, "RESOURCE_NOT_FOUND")
    for bad in ("ak_", "ak_short_x", k["id"] + "_" + "x" * 32, k["api_key"] + "x", "ak_" + "A" * 10 + "_" + "B" * 32):
        assert_error(d.request("GET", "/users", headers={"X-API-Key": bad}), 401, "TOKEN_INVALID")
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    e = d.call("POST", "/auth/api-keys", token=admin, json={"name": "e", "expires_at": soon}).json()["data"]
    time.sleep(3)
    assert_error(d.call("GET", "/users", token=e["api_key"]), 401, "TOKEN_EXPIRED")


def test_other_users_keys_are_invisible(env):
    d, admin = env
    make_user(d, admin, "one", role="manager")
    make_user(d, admin, "two", role="manager")
    t1, t2 = d.login("one", STRONG), d.login("two", STRONG)
    k1 = d.call("POST", "/auth/api-keys", token=t1, json={"name": "mine"}).json()["data"]
    assert_error(d.call("GET", "/auth/api-keys/" + k1["id"], token=t2), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("DELETE", "/auth/api-keys/" + k1["id"], token=t2), 404, "RESOURCE_NOT_FOUND")
    assert d.call("GET", "/auth/api-keys", token=t2).json()["data"]["api_keys"] == []


def test_create_missing_name(env):
    d, admin = env
    err = assert_error(d.call("POST", "/auth/api-keys", token=admin, json={}), 400, "MISSING_PARAMETER")
    assert "name" in err["details"]


@pytest.mark.parametrize("body,field", [
    ({"name": ""}, "name"),
    ({"name": "k", "access_level": "root"}, "access_level"),
    ({"name": "k", "permissions": ["NOPE"]}, "permissions"),
    ({"name": "k", "allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
    ({"name": "k", "allowed_ips": ["not-an-ip"]}, "allowed_ips"),
    ({"name": "k", "allowed_ips": ["2001:db8::/129"]}, "allowed_ips"),
    ({"name": "k", "allowed_endpoints": ["no-leading-slash"]}, "allowed_endpoints"),
    ({"name": "k", "allowed_ips": ["10.0.0.0/8 "]}, "allowed_ips"),
    ({"name": "k", "allowed_ips": ["10.0.0.0/08"]}, "allowed_ips"),
    ({"name": "k", "rate_limit": {"requests_per_minute": 0}}, "rate_limit.requests_per_minute"),
    ({"name": "k", "rate_limit": {"requests_per_minute": "fast"}}, "rate_limit.requests_per_minute"),
    ({"name": "k", "rate_limit": {"requests_per_minute": 1001}}, "rate_limit.requests_per_minute"),
    ({"name": "k", "rate_limit": {"burst_limit": 0}}, "rate_limit.burst_limit"),
    ({"name": "k", "rate_limit": []}, "rate_limit"),
    ({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "k", "expires_at": "tomorrow"}, "expires_at"),
    ({"name": "k", "expires_at": " 2099-01-01T00:00:00Z"}, "expires_at"),  # strptime skipped blanks
    ({"name": "k", "expires_at": "2099-1-01T00:00:00Z"}, "expires_at"),  # and took one-digit fields
    ({"name": "k", "colour": "red"}, "colour"),
])
def test_create_bad_input(env, body, field):
    d, admin = env
    err = assert_error(d.call("POST", "/auth/api-keys", token=admin, json=body), 422, "VALIDATION_ERROR")
    assert field in err["details"], err
