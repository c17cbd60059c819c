"""Authentication: login, lockout, tokens (JWT pitfalls included), refresh
rotation with reuse detection, logout, forced password change, TOTP 2FA."""
import base64
import hashlib
import hmac
import json
import struct
import time

import pytest
import requests

from conftest import ADMIN_PASSWORD, assert_error

STRONG = "Str0ng-Passw0rd!x"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(payload, alg="HS256", key=b"not-the-key"):
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload).encode())
    if alg == "none":
        return header + "." + body + "."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    sig = hmac.new(key, (header + "." + body).encode(), digest).digest()
    return header + "." + body + "." + b64url(sig)


def totp(secret_b32, t=None, step_offset=0):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((t or time.time()) // 30) + step_offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def make_user(d, admin, username, role="user", password=STRONG, **extra):
    body = {"username": username, "email": username + "@example.com", "password": password, "role": role}
    body.update(extra)
    r = d.call("POST", "/users", token=admin, json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def test_login_spec_shape(daemons):
    d = daemons()
    data = d.login(full=True)
    assert data["token_type"] == "bearer" and data["expires_in"] == 3600
    assert data["access_token"].count(".") == 2 and data["refresh_token"].startswith("rt_")
    user = data["user"]
    for field in ("id", "username", "email", "role", "permissions", "two_factor_enabled", "last_login"):
        assert field in user
    assert user["username"] == "admin" and user["role"] == "admin" and user["permissions"] == ["*"]
    me = d.call("GET", "/users/me", token=data["access_token"]).json()["data"]
    assert me["id"] == user["id"] and me["last_login"] is not None


def test_first_admin_gets_random_password_when_none_given(daemons):
    d = daemons(env={"WGM_ADMIN_PASSWORD": ""})
    line = d.wait_log(r"generated password: \S+")
    password = line.split("generated password: ")[1].split()[0]
    assert d.login(password=password)
    # and the configured default of other daemons does not work here
    r = d.request("POST", "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert_error(r, 401, "INVALID_CREDENTIALS")


def test_weak_admin_password_refused_at_start(tmp):
    from conftest import Wgmd
    d = Wgmd(tmp, env={"WGM_ADMIN_PASSWORD": "short"})
    d.start(wait=False)
    assert d.wait_exit() != 0
    assert "admin password" in d.log_text() and "short" not in d.log_text().split("admin password")[1][:80]


@pytest.mark.parametrize("body,field", [
    ({}, "username"),
    ({"username": "admin"}, "password"),
    ({"username": 5, "password": "x"}, "username"),
    ({"username": "admin", "password": ["x"]}, "password"),
    ({"username": "admin", "password": "x", "remember_me": "yes"}, "remember_me"),
    ({"username": "admin", "password": "x", "extra": 1}, "extra"),
    ({"username": "a" * 65, "password": "x"}, "username"),
])
def test_login_bad_input(daemons, body, field):
    d = daemons()
    # an absent required field is 400 MISSING_PARAMETER, a present bad one 422
    missing = field in ("username", "password") and field not in body
    err = assert_error(d.request("POST", "/auth/login", json=body), 400 if missing else 422,
                       "MISSING_PARAMETER" if missing else "VALIDATION_ERROR")
    assert field in err["details"]


def test_login_wrong_password_and_unknown_user_look_alike(daemons):
    d = daemons()
    a = d.request("POST", "/auth/login", json={"username": "admin", "password": "wrong"})
    b = d.request("POST", "/auth/login", json={"username": "nobody", "password": "wrong"})
    assert_error(a, 401, "INVALID_CREDENTIALS")
    assert_error(b, 401, "INVALID_CREDENTIALS")
    assert a.json()["error"]["message"] == b.json()["error"]["message"]


def test_lockout_after_max_attempts(daemons):
    d = daemons()
    admin = d.login()
    assert d.call("PUT", "/system/config", token=admin,
                  json={"security": {"max_login_attempts": 3, "lockout_duration": 60}}).status_code == 200
    make_user(d, admin, "lockme")
    for _ in range(2):
        assert_error(d.request("POST", "/auth/login", json={"username": "lockme", "password": "bad"}), 401,
                     "INVALID_CREDENTIALS")
    err = assert_error(d.request("POST", "/auth/login", json={"username": "lockme", "password": "bad"}), 423,
                       "ACCOUNT_LOCKED")
    assert "locked_until" in err["details"]
    # the right password does not help while locked
    assert_error(d.request("POST", "/auth/login", json={"username": "lockme", "password": STRONG}), 423,
                 "ACCOUNT_LOCKED")
    users = d.call("GET", "/users?search=lockme", token=admin).json()["data"]["users"]
    assert users[0]["locked_until"] is not None


@pytest.mark.parametrize("kind", ["garbage", "alg_none", "hs384_same_secret", "wrong_key", "tampered",
                                  "expired", "bad_scope", "empty"])
def test_bad_tokens_refused(daemons, kind):
    d = daemons()
    good = d.login()
    now = int(time.time())
    payload = {"iss": "wgm", "sub": "1", "jti": "x" * 32, "scope": "full", "iat": now, "exp": now + 600,
               "ims": now * 1000}
    token = {
        "garbage": "not.a.token",
        "alg_none": forge(payload, alg="none"),
        "hs384_same_secret": forge(payload, alg="HS384"),
        "wrong_key": forge(payload),
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "expired": forge(dict(payload, exp=now - 10)),
        "bad_scope": forge(dict(payload, scope="root")),
        "empty": "",
    }[kind]
    r = requests.get(d.api("/users/me"), headers={"Authorization": "Bearer " + token}, timeout=5)
    assert_error(r, 401, "TOKEN_INVALID")


def test_refresh_rotates_and_reuse_revokes_family(daemons):
    d = daemons()
    first = d.login(full=True)
    r = d.request("POST", "/auth/refresh", headers={"Authorization": "Bearer " + first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()["data"]
    assert second["refresh_token"] != first["refresh_token"] and second["expires_in"] == 3600
    assert d.call("GET", "/users/me", token=second["access_token"]).status_code == 200
    # the old refresh token stops working, and its reuse ends the whole family
    assert_error(d.request("POST", "/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401,
                 "TOKEN_INVALID")
    assert_error(d.request("POST", "/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401,
                 "TOKEN_INVALID")
    # another login (another family) is unaffected
    other = d.login(full=True)
    assert d.request("POST", "/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200


def test_refresh_bad_input(daemons):
    d = daemons()
    assert_error(d.request("POST", "/auth/refresh"), 401, "TOKEN_INVALID")
    assert_error(d.request("POST", "/auth/refresh", json={"refresh_token": "rt_nope"}), 401, "TOKEN_INVALID")
    assert_error(d.request("POST", "/auth/refresh", json={"refresh_token": 7}), 401, "TOKEN_INVALID")
    assert_error(d.request("POST", "/auth/refresh", json={"refresh_token": "rt_" + "x" * 500}), 401, "TOKEN_INVALID")


def test_logout_revokes_access_and_refresh(daemons):
    d = daemons()
    s = d.login(full=True)
    r = d.call("POST", "/auth/logout", token=s["access_token"], json={"refresh_token": s["refresh_token"]})
    assert r.status_code == 200
    assert_error(d.call("GET", "/users/me", token=s["access_token"]), 401, "TOKEN_INVALID")
    assert_error(d.request("POST", "/auth/refresh", json={"refresh_token": s["refresh_token"]}), 401, "TOKEN_INVALID")
    assert_error(d.request("POST", "/auth/logout"), 401, "TOKEN_INVALID")


def test_force_change_limits_the_session(daemons):
    d = daemons()
    admin = d.login()
    u = make_user(d, admin, "newbie")
    r = d.call("POST", "/users/%d/reset-password" % u["id"], token=admin,
               json={"new_password": "Temp-Passw0rd!1", "force_change": True})
    assert r.status_code == 200
    data = d.login("newbie", "Temp-Passw0rd!1", full=True)
    assert data["password_change_required"] is True and "refresh_token" not in data
    limited = data["access_token"]
    err = assert_error(d.call("GET", "/users/me", token=limited), 403, "INSUFFICIENT_PERMISSIONS")
    assert err["details"]["reason"] == "password_change_required"
    # policy applies to the new password
    err = assert_error(d.call("POST", "/auth/change-password", token=limited,
                              json={"current_password": "Temp-Passw0rd!1", "new_password": "weakweakweak"}),
                       422, "VALIDATION_ERROR")
    assert "new_password" in err["details"]
    r = d.call("POST", "/auth/change-password", token=limited,
               json={"current_password": "Temp-Passw0rd!1", "new_password": STRONG + "2"})
    assert r.status_code == 200, r.text
    assert_error(d.call("GET", "/users/me", token=limited), 401, "TOKEN_INVALID")  # sessions ended
    assert "refresh_token" in d.login("newbie", STRONG + "2", full=True)


def test_two_factor_enroll_login_replay_disable(daemons):
    d = daemons()
    admin = d.login()
    enrol = d.call("POST", "/auth/2fa/enroll", token=admin).json()["data"]
    secret = enrol["secret"]
    assert enrol["otpauth_uri"].startswith("otpauth://totp/wgm:admin?secret=" + secret)
    assert enrol["qr_code"].startswith("data:image/png;base64,")
    png = base64.b64decode(enrol["qr_code"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert_error(d.call("POST", "/auth/2fa/confirm", token=admin, json={"code": "000000"}), 422, "VALIDATION_ERROR")
    assert d.call("POST", "/auth/2fa/confirm", token=admin, json={"code": totp(secret)}).status_code == 200

    pending = d.login(full=True)
    assert pending["two_factor_required"] is True and "refresh_token" not in pending
    ptok = pending["access_token"]
    # the pending token reaches nothing but verify-2fa
    err = assert_error(d.call("GET", "/users/me", token=ptok), 403, "INSUFFICIENT_PERMISSIONS")
    assert err["details"]["reason"] == "2fa_required"
    assert_error(d.call("POST", "/auth/verify-2fa", token=ptok, json={"code": "12"}), 422, "VALIDATION_ERROR")
    assert_error(d.call("POST", "/auth/verify-2fa", token=ptok, json={"code": "000000", "method": "totp"}), 401,
                 "INVALID_CREDENTIALS")
    # the step used at confirm cannot be replayed; wait for a fresh step
    while int(time.time()) % 30 > 27:
        time.sleep(0.5)
    code = totp(secret)
    r = d.call("POST", "/auth/verify-2fa", token=ptok, json={"code": code, "method": "totp"})
    if r.status_code == 401:  # same step as the confirm above: try the next one
        time.sleep(30 - int(time.time()) % 30 + 1)
        code = totp(secret)
        r = d.call("POST", "/auth/verify-2fa", token=ptok, json={"code": code, "method": "totp"})
    assert r.status_code == 200, r.text
    full = r.json()["data"]
    assert full["verified"] is True and full["refresh_token"].startswith("rt_")
    # replay of the same code, even with a new pending token, is refused
    ptok2 = d.login(full=True)["access_token"]
    err = assert_error(d.call("POST", "/auth/verify-2fa", token=ptok2, json={"code": code}), 401,
                       "INVALID_CREDENTIALS")
    assert err["details"]["code"] == "already used"
    # a full token cannot call verify-2fa
    assert_error(d.call("POST", "/auth/verify-2fa", token=full["access_token"], json={"code": code}), 403,
                 "INSUFFICIENT_PERMISSIONS")
    # disabling needs the password and a code
    assert_error(d.call("POST", "/auth/2fa/disable", token=full["access_token"],
                        json={"password": "wrong", "code": totp(secret)}), 401, "INVALID_CREDENTIALS")


def test_totp_secret_sealed_at_rest(daemons):
    d = daemons()
    admin = d.login()
    secret = d.call("POST", "/auth/2fa/enroll", token=admin).json()["data"]["secret"]
    from conftest import BACKEND
    if BACKEND == "mysql":
        from conftest import mysql_cli
        import urllib.parse
        db = urllib.parse.urlparse(d.env["WGM_DATABASE_URL"]).path.lstrip("/")
        stored = mysql_cli("SELECT totp_pending FROM users WHERE username='admin'", db)
    else:
        import os
        import sqlite3
        con = sqlite3.connect(os.path.join(d.state, "wgm.db"))
        stored = con.execute("SELECT totp_pending FROM users WHERE username='admin'").fetchone()[0]
        con.close()
    assert stored.startswith("wgm1.") and secret not in stored
