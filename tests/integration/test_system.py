"""/system/info (real values) and /system/config (validated, persisted,
applied live, partial)."""
import os
import platform
import socket

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
