"""Rate limits: the spec's defaults and headers, 429 body, live changes,
and one budget shared by two wgmd processes on one Redis."""
import time

import pytest
import requests

from conftest import BACKEND, assert_error


def test_headers_on_every_response(daemons):
    d = daemons()
    for r in (d.get("/version"), d.get("/nope"), d.request("POST", "/auth/login", json={})):
        assert r.headers["X-RateLimit-Limit"] == "100"  # anonymous, per IP
        assert int(r.headers["X-RateLimit-Remaining"]) < 100
        assert int(r.headers["X-RateLimit-Reset"]) >= int(time.time())
    tok = d.login()
    r = d.call("GET", "/users/me", token=tok)
    assert r.headers["X-RateLimit-Limit"] == "1000"  # per user


def test_anonymous_limit_then_429(daemons):
    d = daemons()
    codes = [d.get("/version").status_code for _ in range(101)]
    assert codes[:100] == [200] * 100 and codes[100] == 429
    r = d.get("/version")
    err = assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    assert err["details"]["limit"] == 100 and err["details"]["remaining"] == 0
    assert err["details"]["retry_after"] >= 1 and err["details"]["reset_time"].endswith("Z")
    assert int(r.headers["X-RateLimit-Retry-After"]) >= 1


def test_user_limit_changes_live(daemons):
    d = daemons()
    admin = d.login()
    r = d.call("PUT", "/system/config", token=admin, json={"api_rate_limit": 5})
    assert r.status_code == 200
    codes = [d.call("GET", "/users/me", token=admin).status_code for _ in range(6)]
    assert codes.count(429) >= 1 and codes[0] == 200
    assert d.call("GET", "/users/me", token=admin).headers["X-RateLimit-Limit"] == "5"


def test_api_key_own_limit(daemons):
    d = daemons()
    admin = d.login()
    k = d.call("POST", "/auth/api-keys", token=admin,
               json={"name": "slow", "rate_limit": {"requests_per_minute": 3, "burst_limit": 3}}).json()["data"]
    codes = [d.call("GET", "/users/me", token=k["api_key"]).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert d.call("GET", "/users/me", token=admin).status_code == 200  # the user's own budget is separate


@pytest.mark.skipif(BACKEND != "mysql", reason="needs Redis (WGM_TEST_BACKEND=mysql)")
def test_two_daemons_share_one_budget(daemons):
    a, b = daemons(), daemons()
    allowed = 0
    deadline = time.time() + 20
    for i in range(160):
        d = a if i % 2 == 0 else b
        r = requests.get(d.api("/version"), timeout=5)
        allowed += r.status_code == 200
        if time.time() > deadline:
            break
    # one anonymous budget of 100 for 127.0.0.1, whichever process answers
    # (a token or two may refill while the loop runs)
    assert 100 <= allowed <= 103, allowed


def test_rate_limiting_can_be_switched_off(daemons):
    d = daemons()
    admin = d.login()
    d.call("PUT", "/system/config", token=admin, json={"security": {"enable_rate_limiting": False}})
    codes = {d.get("/version").status_code for _ in range(120)}
    assert codes == {200}
