"""/system/info (real values, services), /system/config (validated,
persisted, applied live, partial; what each setting does), maintenance mode,
and success messages chosen by Accept-Language."""
import os
import platform
import re
import signal
import socket
import time

import pytest

from conftest import BACKEND, assert_error


@pytest.fixture
def env(daemons):
    d = daemons()
    return d, d.login()


def test_info_reads_the_machine(env):
    d, admin = env
    data = d.call("GET", "/system/info", token=admin).json()["data"]
    s = data["system"]
    assert s["hostname"] == socket.gethostname()
    assert s["kernel"] == platform.release() and s["architecture"] == platform.machine()
    assert abs(s["uptime"] - float(open("/proc/uptime").read().split()[0])) < 5
    assert len(s["load_average"]) == 3 and s["cpu_count"] == os.cpu_count()
    db = data["database"]
    assert db["type"] == ("MySQL" if BACKEND == "mysql" else "SQLite") and db["status"] == "connected"
    assert db["version"] and db["pool_size"] >= 1
    assert data["application"]["version"] and data["application"]["pid"] == d.proc.pid
    assert data["cache"]["backend"] == ("redis" if BACKEND == "mysql" else "memory")


def test_config_defaults_match_spec(env):
    d, admin = env
    c = d.call("GET", "/system/config", token=admin).json()["data"]
    assert c["session_timeout"] == 3600 and c["api_rate_limit"] == 1000
    assert c["password_policy"] == {"min_length": 12, "require_uppercase": True, "require_lowercase": True,
                                    "require_digits": True, "require_special": True, "max_age_days": 90}
    assert c["security"]["max_login_attempts"] == 5 and c["security"]["lockout_duration"] == 900


def test_config_partial_update_persists_and_applies(env, tmp):
    d, admin = env
    r = d.call("PUT", "/system/config", token=admin, json={"session_timeout": 7200, "log_level": "DEBUG",
                                                            "password_policy": {"min_length": 14}})
    assert r.status_code == 200, r.text
    c = r.json()["data"]
    assert c["session_timeout"] == 7200 and c["password_policy"]["min_length"] == 14
    assert c["password_policy"]["require_special"] is True  # untouched
    assert d.login(full=True)["expires_in"] == 7200  # live
    r = d.call("POST", "/users", token=admin, json={"username": "shorty", "password": "Abcdef-12345"})
    err = assert_error(r, 422, "VALIDATION_ERROR")
    assert "14" in err["details"]["password"]
    # persisted: a restart keeps it
    d.stop()
    d.start()
    c = d.call("GET", "/system/config", token=d.login()).json()["data"]
    assert c["session_timeout"] == 7200 and c["log_level"] == "DEBUG"


@pytest.mark.parametrize("body,field", [
    ({"session_timeout": 10}, "session_timeout"),
    ({"session_timeout": "long"}, "session_timeout"),
    ({"api_rate_limit": 0}, "api_rate_limit"),
    ({"log_level": "LOUD"}, "log_level"),
    ({"debug_mode": "yes"}, "debug_mode"),
    ({"password_policy": {"min_length": 4}}, "password_policy.min_length"),
    ({"password_policy": {"entropy": 4}}, "password_policy.entropy"),
    ({"password_policy": 5}, "password_policy"),
    ({"security": {"max_login_attempts": 0}}, "security.max_login_attempts"),
    ({"app_version": "9.9.9"}, "app_version"),
    ({"database_pool_size": 99}, "database_pool_size"),
    ({"no_such_setting": 1}, "no_such_setting"),
])
def test_config_bad_input(env, body, field):
    d, admin = env
    err = assert_error(d.call("PUT", "/system/config", token=admin, json=body), 422, "VALIDATION_ERROR")
    assert field in err["details"], err
    # nothing half-written
    assert d.call("GET", "/system/config", token=admin).json()["data"]["session_timeout"] == 3600


def test_config_not_object(env):
    d, admin = env
    assert_error(d.call("PUT", "/system/config", token=admin, json=[1, 2]), 422, "VALIDATION_ERROR")
    assert_error(d.call("PUT", "/system/config", token=admin, data="{", headers={"Content-Type": "application/json"}),
                 400, "BAD_REQUEST")


# --- issue 11: services, configured values, what each setting does ----------


def test_info_services_wgmd_and_plugins(daemons):
    d = daemons(plugins=["service"])
    admin = d.login()
    data = d.call("GET", "/system/info", token=admin).json()["data"]
    svc = data["services"]
    # wgm serves HTTP itself: wgmd stands where the spec shows nginx
    assert "nginx" not in svc
    assert svc["wgmd"]["status"] == "running" and svc["wgmd"]["pid"] == d.proc.pid
    assert svc["wgmd"]["version"] == data["application"]["version"]
    assert svc["fixture_svc"] == {"status": "running", "version": "1.2.3", "pid": d.proc.pid}
    # only loaded plugins' services appear
    assert set(svc) == {"wgmd", "fixture_svc"}
    app = data["application"]
    assert "environment" not in app and "max_connections" not in data["database"]
    assert app["debug_mode"] is False and app["name"] == "wgm"


def test_info_service_goes_with_a_failed_init(daemons):
    d = daemons(plugins=["service"], dropins={"50-service.conf": "[service]\nfail_init = yes\n"})
    admin = d.login()
    svc = d.call("GET", "/system/info", token=admin).json()["data"]["services"]
    assert set(svc) == {"wgmd"}
    plugins = {p["name"]: p for p in d.call("GET", "/plugins", token=admin).json()["data"]["plugins"]}
    assert plugins["service"]["state"] == "failed"


def test_info_permission(daemons):
    d = daemons()
    admin = d.login()
    assert_error(d.get("/system/info"), 401, "TOKEN_INVALID")
    r = d.call("POST", "/users", token=admin, json={"username": "plainuser", "password": "Abcdef-12345!x",
                                                     "role": "user"})
    assert r.status_code == 201, r.text
    user = d.login("plainuser", "Abcdef-12345!x")
    assert_error(d.call("GET", "/system/info", token=user), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(d.call("PUT", "/system/config", token=user, json={"debug_mode": True}), 403,
                 "INSUFFICIENT_PERMISSIONS")


def test_app_name_is_shown_and_published(daemons):
    d = daemons(plugins=["service"])
    admin = d.login()
    assert d.get("/version").json()["data"]["name"] == "wgm"
    r = d.call("PUT", "/system/config", token=admin, json={"app_name": "Edge VPN", "backup_retention": 45})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Configuration updated"
    assert d.get("/version").json()["data"]["name"] == "Edge VPN"
    info = d.call("GET", "/system/info", token=admin).json()["data"]
    assert info["application"]["name"] == "Edge VPN"
    # a plugin subscribed to system.config sees the public document
    deadline = time.time() + 10
    seen = None
    while time.time() < deadline:
        seen = d.call("GET", "/fixtures/service/config", token=admin).json()["data"]
        if seen and seen.get("app_name") == "Edge VPN":
            break
        time.sleep(0.1)
    assert seen["app_name"] == "Edge VPN" and seen["backup_retention"] == 45, seen
    assert seen["count"] >= 2  # once after start, once after the PUT
    # restart: persisted, and published again once the plugins run
    d.stop()
    d.start()
    admin = d.login()
    assert d.get("/version").json()["data"]["name"] == "Edge VPN"
    deadline = time.time() + 10
    while time.time() < deadline:
        seen = d.call("GET", "/fixtures/service/config", token=admin).json()["data"]
        if seen and seen.get("count"):
            break
        time.sleep(0.1)
    assert seen["count"] == 1 and seen["app_name"] == "Edge VPN"


@pytest.mark.parametrize("body,field", [
    ({"app_name": ""}, "app_name"),
    ({"app_name": "x" * 101}, "app_name"),
    ({"app_name": 5}, "app_name"),
    ({"backup_retention": 0}, "backup_retention"),
    ({"backup_retention": 3651}, "backup_retention"),
    ({"maintenance_mode": "on"}, "maintenance_mode"),
    ({"maintenance_retry_after": 0}, "maintenance_retry_after"),
    ({"log_level": "VERBOSE"}, "log_level"),
    ({"log_level": 3}, "log_level"),
])
def test_config_bad_input_new_fields(env, body, field):
    d, admin = env
    err = assert_error(d.call("PUT", "/system/config", token=admin, json=body), 422, "VALIDATION_ERROR")
    assert field in err["details"], err
    c = d.call("GET", "/system/config", token=admin).json()["data"]
    assert c["app_name"] == "wgm" and c["maintenance_mode"] is False and c["log_level"] == "INFO"


@pytest.mark.parametrize("given,canon", [("WARN", "WARN"), ("WARNING", "WARN"), ("warning", "WARN"),
                                         ("Warn", "WARN"), ("debug", "DEBUG"), ("Critical", "CRITICAL"),
                                         ("error", "ERROR")])
def test_log_level_spellings(env, given, canon):
    d, admin = env
    r = d.call("PUT", "/system/config", token=admin, json={"log_level": given})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["log_level"] == canon
    assert d.call("GET", "/system/config", token=admin).json()["data"]["log_level"] == canon
    # the same spelling filters GET /logs
    assert d.call("GET", "/logs", token=admin, params={"level": given}).status_code == 200


def test_debug_mode_outlasts_sighup(env):
    """SIGHUP re-reads [log] level, but debug_mode stays in charge while on."""
    d, admin = env
    assert d.call("PUT", "/system/config", token=admin, json={"debug_mode": True}).status_code == 200
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"log level is now debug")
    from test_websocket import connect
    ws, _ = connect(d, admin)
    ws.close()
    d.wait_log(r"Z debug +\[ws\] client \d+ .*connected")
    # off again: back to the file's level, as SIGHUP last read it
    assert d.call("PUT", "/system/config", token=admin, json={"debug_mode": False}).status_code == 200
    n = len(d.lines)
    ws, _ = connect(d, admin)
    ws.close()
    d.call("GET", "/version")
    d.wait_log(r"GET /api/v1/version")
    assert not [l for l in d.lines[n:] if re.search(r"Z debug ", l)], d.lines[n:]


def test_debug_mode_sets_the_level_and_details(env):
    d, admin = env
    r = d.call("PUT", "/system/config", token=admin, json={"debug_mode": True})
    assert r.status_code == 200 and r.json()["data"]["debug_mode"] is True
    assert d.call("GET", "/system/info", token=admin).json()["data"]["application"]["debug_mode"] is True
    # debug lines appear on stderr from now on (the hub logs connects at debug)
    from test_websocket import connect
    ws, _ = connect(d, admin)
    ws.close()
    d.wait_log(r"Z debug +\[ws\] client \d+ .*connected")
    # a failing handler's 500 says what failed and where: make the export
    # directory a file, so writing an export fails with ENOTDIR
    exports = os.path.join(d.state, "exports")
    if os.path.isdir(exports):
        os.rmdir(exports)
    open(exports, "w").close()
    params = {"format": "json", "start_time": "2024-01-01T00:00:00Z", "end_time": "2024-01-02T00:00:00Z"}
    err = assert_error(d.call("GET", "/logs/export", token=admin, params=params), 500, "INTERNAL_ERROR")
    assert err["details"]["route"] == "/api/v1/logs/export" and err["details"]["method"] == "GET"
    assert err["details"]["errno"] > 0 and err["details"]["error"] and err["details"]["owner"] == "core"
    # off again: no details, and the level returns to the file's
    r = d.call("PUT", "/system/config", token=admin, json={"debug_mode": False})
    assert r.status_code == 200
    err = assert_error(d.call("GET", "/logs/export", token=admin, params=params), 500, "INTERNAL_ERROR")
    assert err["details"] == {}
    n = len(d.lines)
    ws, _ = connect(d, admin)
    ws.close()
    d.call("GET", "/version")
    d.wait_log(r"GET /api/v1/version")  # later than the connect's line would be
    assert not [l for l in d.lines[n:] if re.search(r"Z debug ", l)], d.lines[n:]


# --- maintenance mode --------------------------------------------------------

def _manager(d, admin):
    r = d.call("POST", "/users", token=admin, json={"username": "mgr", "password": "Abcdef-12345!x",
                                                     "role": "manager",
                                                     "permissions": ["users.view", "users.edit"]})
    assert r.status_code == 201, r.text
    return d.login("mgr", "Abcdef-12345!x")


def test_maintenance_mode(daemons):
    d = daemons()
    admin = d.login()
    mgr = _manager(d, admin)
    assert d.get("/health").json()["data"]["status"] == "healthy"
    r = d.call("PUT", "/system/config", token=admin, json={"maintenance_mode": True, "maintenance_retry_after": 120})
    assert r.status_code == 200 and r.json()["data"]["maintenance_mode"] is True
    h = d.get("/health")
    assert h.status_code == 200 and h.json()["data"]["status"] == "maintenance"
    assert h.json()["data"]["maintenance_mode"] is True
    # a mutation by someone without system.edit: 503 with Retry-After
    r = d.call("POST", "/users", token=mgr, json={"username": "blocked", "password": "Abcdef-12345!x"})
    err = assert_error(r, 503, "MAINTENANCE_MODE")
    assert r.headers["Retry-After"] == "120" and err["details"]["retry_after"] == 120
    for method, path in (("PUT", "/users/1"), ("DELETE", "/users/1"), ("POST", "/users/1/reset-password")):
        assert_error(d.call(method, path, token=mgr, json={}), 503, "MAINTENANCE_MODE")
    # reads keep working
    assert d.call("GET", "/users", token=mgr).status_code == 200
    # sign-in, refresh and sign-out are not mutations of managed state
    full = d.login("mgr", "Abcdef-12345!x", full=True)
    r = d.request("POST", "/auth/refresh", json={"refresh_token": full["refresh_token"]})
    assert r.status_code == 200, r.text
    assert d.call("POST", "/auth/logout", token=full["access_token"]).status_code == 200
    # without credentials a protected mutation is still 401 first
    assert_error(d.request("POST", "/users", json={}), 401, "TOKEN_INVALID")
    # system.edit may still change things (and end maintenance)
    r = d.call("POST", "/users", token=admin, json={"username": "allowed", "password": "Abcdef-12345!x"})
    assert r.status_code == 201, r.text
    # persisted like the other settings
    d.stop()
    d.start()
    admin = d.login()
    assert d.get("/health").json()["data"]["status"] == "maintenance"
    mgr = d.login("mgr", "Abcdef-12345!x")
    assert_error(d.call("POST", "/users", token=mgr, json={"username": "late2", "password": "Abcdef-12345!x"}), 503,
                 "MAINTENANCE_MODE")
    assert d.call("PUT", "/system/config", token=admin, json={"maintenance_mode": False}).status_code == 200
    assert d.get("/health").json()["data"]["status"] == "healthy"
    r = d.call("POST", "/users", token=mgr, json={"username": "late2", "password": "Abcdef-12345!x"})
    assert r.status_code == 201, r.text


def test_maintenance_covers_plugin_routes(daemons):
    d = daemons(plugins=["service"])
    admin = d.login()
    r = d.call("POST", "/users", token=admin, json={"username": "viewer", "password": "Abcdef-12345!x",
                                                     "permissions": ["system.view"]})
    assert r.status_code == 201, r.text
    viewer = d.login("viewer", "Abcdef-12345!x")
    assert d.call("POST", "/fixtures/service", token=viewer).status_code == 201
    assert d.call("PUT", "/system/config", token=admin, json={"maintenance_mode": True}).status_code == 200
    r = d.call("POST", "/fixtures/service", token=viewer)
    assert_error(r, 503, "MAINTENANCE_MODE")
    assert r.headers["Retry-After"] == "300"  # the default
    assert d.call("POST", "/fixtures/service", token=admin).status_code == 201


def test_maintenance_is_announced_on_the_websocket(daemons):
    from test_websocket import connect
    d = daemons()
    admin = d.login()
    ws, welcome = connect(d, admin)
    try:
        assert d.call("PUT", "/system/config", token=admin, json={"app_name": "quiet"}).status_code == 200
        assert d.call("PUT", "/system/config", token=admin, json={"maintenance_mode": True}).status_code == 200
        msg = ws.recv_json(timeout=10)
        # the system.config event is not pushed raw: the first message is the announcement
        assert msg["type"] == "system_status", msg
        assert msg["data"] == {"maintenance_mode": True, "retry_after": 300}
        assert d.call("PUT", "/system/config", token=admin, json={"maintenance_mode": False}).status_code == 200
        msg = ws.recv_json(timeout=10)
        assert msg["type"] == "system_status" and msg["data"]["maintenance_mode"] is False
    finally:
        ws.close()


# --- messages and Accept-Language -----------------------------------------------

@pytest.mark.parametrize("lang,zh", [
    (None, False), ("zh-CN", True), ("zh", True), ("ZH-tw", True), ("en-US,zh;q=0.9", False),
    ("zh-CN,zh;q=0.9,en;q=0.8", True), ("en;q=0.4, zh;q=0.5", True), ("zh;q=0", False), ("*", False),
    ("fr, zh;q=0.8", True), ("fr", False), ("zh;q=bogus, en;q=0.1", False), ("zh;q=0.500", True),
    ("*;q=0.9, en;q=0.1", True), ("zh-Hans-CN;q=1.0, en", False),
])
def test_messages_follow_accept_language(env, lang, zh):
    d, admin = env
    headers = {"Accept-Language": lang} if lang else {}
    name = "u" + str(abs(hash(lang)) % 10 ** 8)
    r = d.call("POST", "/users", token=admin, headers=headers, json={"username": name, "password": "Abcdef-12345!x"})
    assert r.status_code == 201, r.text
    assert r.json()["message"] == ("用户创建成功" if zh else "User created")


def test_user_action_messages(env):
    d, admin = env
    zh = {"Accept-Language": "zh-CN"}
    uid = d.call("POST", "/users", token=admin, json={"username": "msgs", "password": "Abcdef-12345!x"}).json()["data"]["id"]
    r = d.call("PUT", "/users/%d" % uid, token=admin, json={"full_name": "M"}, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "用户更新成功"
    r = d.call("POST", "/users/%d/reset-password" % uid, token=admin, json={"new_password": "Xyzabc-98765!q"})
    assert r.status_code == 200 and r.json()["message"] == "Password reset"
    r = d.call("DELETE", "/users/%d" % uid, token=admin, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "用户删除成功"
    r = d.call("PUT", "/system/config", token=admin, json={"session_timeout": 3600}, headers=zh)
    assert r.json()["message"] == "系统配置更新成功"
    # reads carry no message
    assert "message" not in d.call("GET", "/users", token=admin).json()


def test_auth_action_messages(env):
    from conftest import ADMIN_PASSWORD
    from test_auth import totp
    d, admin = env
    zh = {"Accept-Language": "zh-CN"}
    other = d.login()
    r = d.call("POST", "/auth/2fa/enroll", token=admin)
    assert r.status_code == 200 and r.json()["message"] == "Two-factor enrolment started"
    secret = r.json()["data"]["secret"]
    r = d.call("POST", "/auth/2fa/confirm", token=admin, json={"code": totp(secret)}, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "双因子认证已启用", r.text
    r = d.call("POST", "/auth/logout", token=other)
    assert r.status_code == 200 and r.json()["message"] == "Logged out"
    r = d.call("POST", "/auth/change-password", token=admin,
               json={"current_password": ADMIN_PASSWORD, "new_password": "Xyzabc-98765!q-new"}, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "密码修改成功", r.text


def test_plugin_message_through_the_host(daemons):
    d = daemons(plugins=["service"])
    admin = d.login()
    r = d.call("POST", "/fixtures/service", token=admin)
    assert r.status_code == 201 and r.json() == {"success": True, "data": {"done": True}, "message": "fixture done"}
    r = d.call("POST", "/fixtures/service", token=admin, headers={"Accept-Language": "zh-CN,en;q=0.5"})
    assert r.json()["message"] == "夹具完成"
