"""HTTP-side security (issue 12): WebSocket connections re-checked after the
handshake and bounded per user, access-log lines that a URL cannot split,
HTTPS with TLS 1.2+ and HSTS, the non-loopback warning, HTTP connections
per client address, the export quota and streamed downloads."""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import subprocess
import time

import pytest
import requests

from conftest import Wgmd, assert_error
from test_auth import STRONG, make_user
from test_websocket import WS, Closed, connect

# Seconds between re-checks in these tests; every bound below derives from it.
INTERVAL = 2
WS_CONF = "[websocket]\nrevalidate_interval = %d\n" % INTERVAL


def close_bound():
    """A socket must be closed within two intervals (one pass may just have
    started when the change landed), plus a margin for a loaded machine."""
    return 2 * INTERVAL + 5


@pytest.fixture
def wsd(daemons):
    d = daemons(config=WS_CONF)
    d.token = d.login()
    return d


def expect_policy_close(ws, words):
    code, reason = ws.expect_close(timeout=close_bound())
    assert code == 1008, (code, reason)
    assert words in reason, reason
    ws.close()


# --- WebSocket revalidation ---------------------------------------------------

def test_logout_closes_the_socket(wsd):
    ws, _ = connect(wsd, wsd.token)
    other, _ = connect(wsd, wsd.login())  # another session of the same user
    assert wsd.call("POST", "/auth/logout", token=wsd.token).status_code == 200
    expect_policy_close(ws, "session has ended")
    # Only the session that logged out: the other one still gets pings answered.
    other.send_json({"type": "ping", "data": {"n": 1}})
    assert other.recv_json(types=["pong"], timeout=close_bound())["data"] == {"n": 1}
    other.close()


def test_suspension_closes_the_socket(wsd):
    u = make_user(wsd, wsd.token, "susie", role="manager")
    ws, welcome = connect(wsd, wsd.login("susie", STRONG))
    assert welcome["data"]["user"]["role"] == "manager"
    r = wsd.call("PUT", "/users/%d" % u["id"], token=wsd.token, json={"status": "suspended"})
    assert r.status_code == 200, r.text
    code, reason = ws.expect_close(timeout=close_bound())
    assert code == 1008 and ("not active" in reason or "session has ended" in reason), reason
    ws.close()


def test_role_change_closes_the_socket(wsd):
    u = make_user(wsd, wsd.token, "demo", role="manager")
    ws, _ = connect(wsd, wsd.login("demo", STRONG))
    r = wsd.call("PUT", "/users/%d" % u["id"], token=wsd.token, json={"role": "user"})
    assert r.status_code == 200, r.text
    expect_policy_close(ws, "role has changed")
    # Reconnecting gives a welcome with the new role.
    ws, welcome = connect(wsd, wsd.login("demo", STRONG))
    assert welcome["data"]["user"]["role"] == "user"
    ws.close()


def test_password_reset_closes_the_socket(wsd):
    u = make_user(wsd, wsd.token, "resetme")
    ws, _ = connect(wsd, wsd.login("resetme", STRONG))
    r = wsd.call("POST", "/users/%d/reset-password" % u["id"], token=wsd.token,
                 json={"new_password": STRONG + "2", "force_change": False})
    assert r.status_code == 200, r.text
    expect_policy_close(ws, "session has ended")


def test_deleted_user_closes_the_socket(wsd):
    u = make_user(wsd, wsd.token, "gone")
    ws, _ = connect(wsd, wsd.login("gone", STRONG))
    assert wsd.call("DELETE", "/users/%d" % u["id"], token=wsd.token).status_code in (200, 204)
    code, reason = ws.expect_close(timeout=close_bound())
    assert code == 1008, (code, reason)
    ws.close()


def test_revoked_api_key_closes_the_socket(wsd):
    r = wsd.call("POST", "/auth/api-keys", token=wsd.token, json={"name": "ws", "permissions": ["monitoring.view"]})
    assert r.status_code == 201, r.text
    key = r.json()["data"]
    ws, welcome = connect(wsd, key["api_key"])
    assert welcome["data"]["types"] == ["system_status", "alert"]
    r = wsd.call("DELETE", "/auth/api-keys/" + key["id"], token=wsd.token)
    assert r.status_code in (200, 204), r.text
    code, reason = ws.expect_close(timeout=close_bound())
    assert code == 1008 and "API key" in reason, reason
    ws.close()


def forge_token(d, user_id, lifetime):
    """An access token signed with this daemon's own key (the test owns its
    state dir), living @lifetime seconds: the only way to see plain expiry
    without waiting for the 300 s minimum session_timeout."""
    with open(os.path.join(d.state, "jwt.key"), "rb") as f:
        key = f.read()

    def b64(obj):
        raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    head = b64({"alg": "HS256", "typ": "JWT"}) + "." + b64({
        "iss": "wgm", "sub": str(user_id), "jti": os.urandom(16).hex(), "scope": "full",
        "iat": now, "exp": now + lifetime, "ims": now * 1000})
    return head + "." + b64(hmac.new(key, head.encode(), hashlib.sha256).digest())


def test_plain_token_expiry_closes_the_socket(wsd):
    lifetime = 2
    tok = forge_token(wsd, 1, lifetime)
    assert wsd.call("GET", "/users/me", token=tok).status_code == 200  # a real token while it lives
    ws, _ = connect(wsd, tok)
    code, reason = ws.expect_close(timeout=lifetime + close_bound())
    assert code == 1008 and "expired" in reason, (code, reason)
    ws.close()
    assert_error(wsd.call("GET", "/users/me", token=tok), 401, "TOKEN_EXPIRED")


def test_a_valid_socket_stays_open_across_rechecks(wsd):
    ws, _ = connect(wsd, wsd.token)
    # Several passes go by; the connection keeps working.
    deadline = time.time() + 3 * INTERVAL
    n = 0
    while time.time() < deadline:
        ws.send_json({"type": "ping", "data": {"n": n}})
        assert ws.recv_json(types=["pong"])["data"] == {"n": n}
        n += 1
        time.sleep(0.5)
    ws.close()


# --- WebSocket connections per user --------------------------------------------

def test_connections_per_user_are_bounded(daemons):
    d = daemons(config=WS_CONF + "max_per_user = 2\n")
    admin = d.login()
    a, _ = connect(d, admin)
    b, _ = connect(d, d.login())  # another session: the limit is per user
    ws = WS(d.port, token=admin)
    assert ws.status == 429, ws.buf
    body = ws.buf.decode()
    assert "RATE_LIMIT_EXCEEDED" in body and '"limit":2' in body, body
    ws.close()
    # Another user is not affected.
    make_user(d, admin, "other")
    c, _ = connect(d, d.login("other", STRONG))
    # A closed connection frees its place.
    a.send(0x8, b"\x03\xe8")
    a.expect_close()
    a.close()
    deadline = time.time() + 10
    while True:
        ws = WS(d.port, token=admin)
        if ws.status == 101 or time.time() > deadline:
            break
        ws.close()
        time.sleep(0.2)
    assert ws.status == 101
    ws.close()
    b.close()
    c.close()


@pytest.mark.parametrize("key,value", [("max_per_user", "0"), ("max_per_user", "x"),
                                       ("revalidate_interval", "0"), ("revalidate_interval", "301")])
def test_websocket_keys_are_validated(tmp, key, value):
    d = Wgmd(tmp, config="[websocket]\n%s = %s\n" % (key, value))
    rc, out = d.check()
    assert rc != 0 and key in out, out
