"""/users: listing with filters, create/update/delete, reset-password,
conflicts, validation naming the field, escalation and the last admin."""
import pytest

from conftest import assert_error
from test_auth import STRONG, make_user


@pytest.fixture
def env(daemons):
    d = daemons()
    return d, d.login()


def test_list_filters_sort_and_pagination(env):
    d, admin = env
    for i in range(5):
        make_user(d, admin, "u%02d" % i, role="manager" if i % 2 else "user")
    data = d.call("GET", "/users?page=2&size=2&sort=username&order=asc", token=admin).json()["data"]
    assert [u["username"] for u in data["users"]] == ["u01", "u02"]
    assert data["pagination"] == {"page": 2, "size": 2, "total": 6, "pages": 3, "has_next": True, "has_prev": True}
    data = d.call("GET", "/users?role=manager", token=admin).json()["data"]
    assert {u["username"] for u in data["users"]} == {"u01", "u03"}
    data = d.call("GET", "/users?search=u0&sort=username&order=desc", token=admin).json()["data"]
    assert data["users"][0]["username"] == "u04"
    # LIKE wildcards in search are literal
    assert d.call("GET", "/users?search=%25", token=admin).json()["data"]["pagination"]["total"] == 0
    assert d.call("GET", "/users?search=u_0", token=admin).json()["data"]["pagination"]["total"] == 0


@pytest.mark.parametrize("query,field", [
    ("size=101", "size"), ("size=0", "size"), ("page=0", "page"), ("page=x", "page"),
    ("role=root", "role"), ("status=gone", "status"), ("sort=password_hash", "sort"), ("order=up", "order"),
    ("search=" + "x" * 101, "search"),
])
def test_list_bad_query(env, query, field):
    d, admin = env
    err = assert_error(d.call("GET", "/users?" + query, token=admin), 422, "VALIDATION_ERROR")
    assert field in err["details"]


def test_create_shape_and_duplicates(env):
    d, admin = env
    u = make_user(d, admin, "alice", role="user", full_name="Alice", permissions=["bgp.edit"])
    assert u["username"] == "alice" and u["full_name"] == "Alice" and u["status"] == "active"
    assert "bgp.edit" in u["permissions"] and "wireguard.view" in u["permissions"]
    assert "password" not in u and "password_hash" not in u
    r = d.call("POST", "/users", token=admin, json={"username": "alice", "email": "x@example.com", "password": STRONG})
    assert_error(r, 409, "RESOURCE_ALREADY_EXISTS")
    r = d.call("POST", "/users", token=admin, json={"username": "alice2", "email": "alice@example.com",
                                                     "password": STRONG})
    assert_error(r, 409, "RESOURCE_ALREADY_EXISTS")


@pytest.mark.parametrize("body,fields", [
    ({"email": "a@example.com", "password": STRONG}, {"username"}),
    ({"username": "bob"}, {"password"}),
    ({}, {"username", "password"}),
    # absent beats invalid: the 400 names every missing field, the bad email too
    ({"username": "bob", "email": "nope"}, {"password", "email"}),
])
def test_create_missing_field_is_400(env, body, fields):
    d, admin = env
    err = assert_error(d.call("POST", "/users", token=admin, json=body), 400, "MISSING_PARAMETER")
    assert set(err["details"]) == fields, err
    err = assert_error(d.call("POST", "/users", token=admin), 400, "MISSING_PARAMETER")
    assert "body" in err["details"]


@pytest.mark.parametrize("body,field", [
    ({"username": "ab", "password": STRONG}, "username"),
    ({"username": "bad name", "password": STRONG}, "username"),
    ({"username": "bob", "email": "not-an-email", "password": STRONG}, "email"),
    ({"username": "bob", "password": "Short1!"}, "password"),
    ({"username": "bob", "password": "alllowercase-no-digits!"}, "password"),
    ({"username": "bob", "password": "NoSpecialChars123"}, "password"),
    ({"username": "bob", "password": STRONG, "role": "root"}, "role"),
    ({"username": "bob", "password": STRONG, "status": "zombie"}, "status"),
    ({"username": "bob", "password": STRONG, "permissions": "all"}, "permissions"),
    ({"username": "bob", "password": STRONG, "permissions": ["Not Valid"]}, "permissions"),
    ({"username": "bob", "password": STRONG, "two_factor_enabled": True}, "two_factor_enabled"),
    ({"username": "bob", "password": STRONG, "nickname": "b"}, "nickname"),
])
def test_create_bad_input(env, body, field):
    d, admin = env
    err = assert_error(d.call("POST", "/users", token=admin, json=body), 422, "VALIDATION_ERROR")
    assert field in err["details"], err


def test_update_partial_and_not_found(env):
    d, admin = env
    u = make_user(d, admin, "carol")
    r = d.call("PUT", "/users/%d" % u["id"], token=admin, json={"full_name": "Carol C"})
    assert r.status_code == 200 and r.json()["data"]["full_name"] == "Carol C"
    assert r.json()["data"]["email"] == "carol@example.com"  # untouched
    assert_error(d.call("PUT", "/users/9999", token=admin, json={"full_name": "x"}), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("GET", "/users/abc", token=admin), 404, "RESOURCE_NOT_FOUND")
    # ids are digits only: no sign, no blanks (strtoll would take both)
    for bad in ("+%d" % u["id"], "%%20%d" % u["id"], "%d%%20" % u["id"], "-1", "0"):
        assert_error(d.call("GET", "/users/" + bad, token=admin), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("PUT", "/users/%d" % u["id"], token=admin, json={"role": 3}), 422, "VALIDATION_ERROR")
    assert_error(d.call("PUT", "/users/%d" % u["id"], token=admin, json=[1]), 422, "VALIDATION_ERROR")


def test_deactivation_ends_sessions(env):
    d, admin = env
    u = make_user(d, admin, "dave")
    tok = d.login("dave", STRONG)
    assert d.call("GET", "/users/me", token=tok).status_code == 200
    assert d.call("PUT", "/users/%d" % u["id"], token=admin, json={"status": "suspended"}).status_code == 200
    assert_error(d.call("GET", "/users/me", token=tok), 401, "TOKEN_INVALID")
    r = d.request("POST", "/auth/login", json={"username": "dave", "password": STRONG})
    assert_error(r, 403, "ACCOUNT_DISABLED")


def test_last_admin_is_protected(env):
    d, admin = env
    me = d.call("GET", "/users/me", token=admin).json()["data"]
    err = assert_error(d.call("PUT", "/users/%d" % me["id"], token=admin, json={"role": "user"}), 422,
                       "VALIDATION_ERROR")
    assert "role" in err["details"]
    assert_error(d.call("PUT", "/users/%d" % me["id"], token=admin, json={"status": "inactive"}), 422,
                 "VALIDATION_ERROR")
    assert_error(d.call("DELETE", "/users/%d" % me["id"], token=admin), 422, "VALIDATION_ERROR")  # self
    other = make_user(d, admin, "admin2", role="admin")
    tok2 = d.login("admin2", STRONG)
    # with two admins one may go; then the remaining one is the last again
    assert d.call("DELETE", "/users/%d" % me["id"], token=tok2).status_code == 200
    assert_error(d.call("PUT", "/users/%d" % other["id"], token=tok2, json={"role": "manager"}), 422,
                 "VALIDATION_ERROR")


def test_no_privilege_escalation(env):
    d, admin = env
    make_user(d, admin, "mgr", role="manager", permissions=["users.edit"])
    mgr = d.login("mgr", STRONG)
    r = d.call("POST", "/users", token=mgr, json={"username": "evil", "password": STRONG, "role": "admin"})
    assert_error(r, 403, "INSUFFICIENT_PERMISSIONS")
    r = d.call("POST", "/users", token=mgr, json={"username": "evil", "password": STRONG, "permissions": ["*"]})
    assert_error(r, 403, "INSUFFICIENT_PERMISSIONS")
    me = d.call("GET", "/users/me", token=mgr).json()["data"]
    r = d.call("PUT", "/users/%d" % me["id"], token=mgr, json={"role": "admin"})
    assert_error(r, 403, "INSUFFICIENT_PERMISSIONS")
    admin_id = d.call("GET", "/users/me", token=admin).json()["data"]["id"]
    assert_error(d.call("PUT", "/users/%d" % admin_id, token=mgr, json={"full_name": "x"}), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_error(d.call("POST", "/users/%d/reset-password" % admin_id, token=mgr,
                        json={"new_password": STRONG + "x"}), 403, "INSUFFICIENT_PERMISSIONS")
    # within its own rights it works
    assert d.call("POST", "/users", token=mgr, json={"username": "ok_user", "password": STRONG}).status_code == 201


def test_reset_password_bad_input(env):
    d, admin = env
    u = make_user(d, admin, "erin")
    path = "/users/%d/reset-password" % u["id"]
    err = assert_error(d.call("POST", path, token=admin, json={}), 400, "MISSING_PARAMETER")
    assert "new_password" in err["details"]
    assert_error(d.call("POST", path, token=admin, json={"new_password": "weak"}), 422, "VALIDATION_ERROR")
    assert_error(d.call("POST", path, token=admin, json={"new_password": STRONG, "force_change": "y"}), 422,
                 "VALIDATION_ERROR")
    assert_error(d.call("POST", "/users/424242/reset-password", token=admin, json={"new_password": STRONG}), 404,
                 "RESOURCE_NOT_FOUND")


def test_delete_removes_sessions_and_keys(env):
    d, admin = env
    u = make_user(d, admin, "frank", role="manager")
    tok = d.login("frank", STRONG)
    key = d.call("POST", "/auth/api-keys", token=tok, json={"name": "k"}).json()["data"]["api_key"]
    assert d.call("GET", "/users/me", token=key).status_code == 200
    assert d.call("DELETE", "/users/%d" % u["id"], token=admin).status_code == 200
    assert_error(d.call("GET", "/users/me", token=tok), 401, "TOKEN_INVALID")
    assert_error(d.call("GET", "/users/me", token=key), 401, "TOKEN_INVALID")
    assert_error(d.call("DELETE", "/users/%d" % u["id"], token=admin), 404, "RESOURCE_NOT_FOUND")


# --- the first admin's email (the spec's user model: email is a string) ------

def test_first_admin_has_an_email(daemons):
    d = daemons()
    tok = d.login()
    me = d.call("GET", "/users/me", token=tok).json()["data"]
    assert me["email"] == "admin@localhost"
    d2 = daemons(env={"WGM_ADMIN_EMAIL": "ops@example.org"})
    me = d2.call("GET", "/users/me", token=d2.login()).json()["data"]
    assert me["email"] == "ops@example.org"


@pytest.mark.parametrize("email", ["not-an-email", "a b@example.org", "@example.org", "x@y@example.org"])
def test_first_admin_email_is_validated(daemons, email):
    d = daemons(start=False, env={"WGM_ADMIN_EMAIL": email})
    d.start(wait=False)
    rc = d.wait_exit()
    assert rc != 0
    assert "WGM_ADMIN_EMAIL" in d.log_text() and "is not an email address" in d.log_text(), d.log_text()


def test_api_key_messages(env):
    d, admin = env
    r = d.call("POST", "/auth/api-keys", token=admin, json={"name": "msg", "permissions": ["logs.view"]},
               headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 201, r.text
    assert r.json()["message"] == "API密钥创建成功"
    kid = r.json()["data"]["id"]
    r = d.call("DELETE", "/auth/api-keys/%s" % kid, token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "API key revoked"
