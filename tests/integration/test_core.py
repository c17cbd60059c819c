"""Core daemon over real HTTP: endpoints, envelopes, limits, signals, config."""
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest
import requests

from conftest import BACKEND, WGMD, Wgmd, assert_error


# --- endpoints -------------------------------------------------------------

def test_version_shape(daemons):
    d = daemons()
    r = d.get("/version")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    data = body["data"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", data["version"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["build_date"])
    assert data["api_version"] == "v1"
    assert data["features"] == []  # nothing loaded, nothing claimed


def test_version_features_follow_loaded_plugins(daemons):
    d = daemons(plugins=["good", "a_needs_good", "init_fails"])
    features = d.get("/version").json()["data"]["features"]
    assert sorted(features) == ["a_needs_good_feature", "good"]


def test_health_reports_database_and_cache(daemons):
    d = daemons()
    r = d.get("/health")
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["status"] == "healthy"
    assert data["database"]["status"] == "up"
    assert data["database"]["type"] == ("mysql" if BACKEND == "mysql" else "sqlite")
    assert data["cache"]["backend"] == ("redis" if BACKEND == "mysql" else "memory")
    assert data["cache"]["status"] == "up"


def test_plugins_lists_states_and_reasons(daemons):
    d = daemons(plugins=["good", "bad_magic", "other_major", "newer_minor", "wrong_signature",
                         "no_symbol", "init_fails", "missing_requirement", "needs_failed"])
    plugins = {p["name"]: p for p in d.call("GET", "/plugins", token=d.login()).json()["data"]["plugins"]}
    assert plugins["good"]["state"] == "running" and plugins["good"]["abi"] == "1.2"
    assert plugins["good"]["version"] == "1.0.0" and plugins["good"]["reason"] is None
    expected = {
        "bad_magic": ("refused", "bad magic"),
        "other_major": ("refused", "ABI major 2"),
        "newer_minor": ("refused", "needs ABI 1.3"),
        "wrong_signature": ("refused", "signature"),
        "no_symbol": ("refused", "no wgm_plugin_v1 symbol"),
        "init_fails": ("failed", "init returned"),
        "missing_requirement": ("refused", "not installed"),
        "needs_failed": ("refused", "'init_fails', which is failed"),
    }
    for name, (state, reason) in expected.items():
        assert plugins[name]["state"] == state, plugins[name]
        assert reason in plugins[name]["reason"], plugins[name]
        # exactly one log line per refusal, naming the file and the reason
        lines = [l for l in d.lines if "[plugin]" in l and name + ".so" in l]
        assert len(lines) == 1, lines
        assert reason in lines[0]
    # the daemon keeps serving, and the good plugin's route works
    assert d.get("/fixtures/good").status_code == 200
    assert d.get("/fixtures/init_fails").status_code == 404  # removed after failed init


# --- envelopes, routing, bad input ----------------------------------------

def test_unknown_path_is_404_envelope(daemons):
    d = daemons()
    err = assert_error(d.get("/no/such/thing"), 404, "RESOURCE_NOT_FOUND")
    assert err["details"]["path"] == "/api/v1/no/such/thing"
    assert_error(requests.get(d.url + "/", timeout=5), 404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("path", ["/version", "/health"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_with_allow(daemons, path, method):
    d = daemons()
    r = d.request(method, path, json={"x": 1})
    err = assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert r.headers["Allow"] == "GET"
    assert err["details"]["allowed"] == "GET"


def test_query_noise_is_ignored_on_core_endpoints(daemons):
    d = daemons()
    tok = d.login()
    for path in ("/version?x=1&&y", "/health?page=-1", "/plugins?%ff=%00"):
        assert d.call("GET", path, token=tok).status_code == 200


def test_request_id_echoed_or_generated(daemons):
    d = daemons()
    r = d.get("/version", headers={"X-Request-ID": "client-abc_123.4"})
    assert r.headers["X-Request-ID"] == "client-abc_123.4"
    r = d.get("/nope", headers={"X-Request-ID": "client-abc_123.4"})
    assert r.json()["error"]["request_id"] == "client-abc_123.4"
    for bad in ("has space", "x" * 200, "semi;colon", "<script>"):
        r = d.get("/nope", headers={"X-Request-ID": bad})
        rid = r.headers["X-Request-ID"]
        assert re.fullmatch(r"req_[0-9a-f]{16}", rid), rid
        assert r.json()["error"]["request_id"] == rid
    ids = {d.get("/version").headers["X-Request-ID"] for _ in range(20)}
    assert len(ids) == 20


def test_invalid_json_body_is_400_with_position(daemons):
    d = daemons(plugins=["slow"])
    r = d.request("POST", "/fixtures/echo", data='{"a": 1,', headers={"Content-Type": "application/json"})
    err = assert_error(r, 400, "BAD_REQUEST")
    assert err["details"]["line"] == 1 and "position" in err["details"] and err["details"]["body"]
    r = d.request("POST", "/fixtures/echo", data='{"a":1,"a":2}', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "BAD_REQUEST")  # duplicate keys are ambiguous input
    r = d.request("POST", "/fixtures/echo", data="\xff\xfe", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "BAD_REQUEST")
    r = d.request("POST", "/fixtures/echo", json={"a": [1, "ü"]})
    assert r.status_code == 200 and r.json()["data"]["body"] == {"a": [1, "ü"]}


def test_non_json_content_type_is_415(daemons):
    d = daemons(plugins=["slow"])
    r = d.request("POST", "/fixtures/echo", data="a=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_body_limit_is_413(daemons):
    d = daemons(plugins=["slow"], config="[http]\nbody_limit = 2048\n")
    ok = d.request("POST", "/fixtures/echo", json={"s": "x" * 1000})
    assert ok.status_code == 200
    r = d.request("POST", "/fixtures/echo", json={"s": "x" * 5000})
    err = assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert err["details"]["body"] == "2048"

    def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(10):
            yield b'"' + b"y" * 1000 + b'"'
    r = requests.post(d.api("/fixtures/echo"), data=chunks(), headers={"Content-Type": "application/json"}, timeout=10)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")


def test_access_log_line_per_request(daemons):
    d = daemons()
    rid = d.get("/version").headers["X-Request-ID"]
    line = d.wait_log(r"\[access\].*request_id=" + rid)
    assert " GET /api/v1/version 200 " in line
    rid = d.get("/nope").headers["X-Request-ID"]
    line = d.wait_log(r"\[access\].*request_id=" + rid)
    assert " 404 " in line and "error=RESOURCE_NOT_FOUND" in line


# --- signals -----------------------------------------------------------------

def test_sigterm_drains_in_flight_requests(daemons):
    d = daemons(plugins=["slow"])
    result = {}

    def slow_call():
        result["r"] = requests.get(d.api("/fixtures/slow?ms=1500"), timeout=20)

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(0.4)
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    # new connections are refused while draining
    with pytest.raises(requests.ConnectionError):
        requests.get(d.api("/version"), timeout=2)
    t.join(timeout=20)
    assert result["r"].status_code == 200 and result["r"].json()["data"]["slept_ms"] == 1500
    assert d.wait_exit() == 0
    assert "draining" in d.log_text()


def test_sighup_rereads_log_level(daemons):
    d = daemons(config="[log]\nlevel = info\n")
    with open(d.conf, "a") as f:
        f.write("")  # level set above; now rewrite it
    text = open(d.conf).read().replace("level = info", "level = debug")
    open(d.conf, "w").write(text)
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"log level is now debug")
    # a broken file keeps the current level and says why
    open(d.conf, "w").write(text.replace("level = debug", "level = loud"))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log(r"keeping log level debug")
    assert d.get("/version").status_code == 200


# --- configuration -------------------------------------------------------------

def test_check_mode_accepts_good_config(tmp):
    d = Wgmd(tmp, config="[log]\nlevel = debug\n", plugins=["good"], dropins={"50-good.conf": "[good]\ncount = 4\n"})
    rc, out = d.check()
    assert rc == 0, out
    assert "configuration OK" in out


@pytest.mark.parametrize("config,dropin,where,words", [
    ("[http]\nthreads = 0\n", None, "wgm.conf:4", "threads"),
    ("[htp]\nx = 1\n", None, "wgm.conf:3", "unknown section [htp]"),
    ("[log]\nlevle = info\n", None, "wgm.conf:4", "unknown key 'levle'"),
    ("[log]\nlevel = chatty\n", None, "wgm.conf:4", "error|warn|info|debug"),
    ("this line is broken\n", None, "wgm.conf:3", "syntax"),
    ("", "[http]\nbody_limit = 12\n", "20-x.conf:2", "body_limit"),
    ("", "[good]\ncount = 99\n", "20-x.conf:2", "count"),
    ("", "[good]\nnope = 1\n", "20-x.conf:2", "unknown key 'nope'"),
    ("", "[good]\nenabled = perhaps\n", "20-x.conf:2", "enabled"),
])
def test_check_mode_names_file_and_line(tmp, config, dropin, where, words):
    d = Wgmd(tmp, config=config, plugins=["good"], dropins={"20-x.conf": dropin} if dropin else None)
    rc, out = d.check()
    assert rc != 0
    assert where in out and words in out, out


def test_env_overrides_and_disables(daemons, tmp):
    d = daemons(plugins=["good", "slow"], config="[log]\nlevel = info\n",
                env={"WGM_GOOD_ENABLED": "no", "WGM_HTTP_BODY_LIMIT": "1024"})
    plugins = {p["name"]: p for p in d.call("GET", "/plugins", token=d.login()).json()["data"]["plugins"]}
    assert plugins["good"]["state"] == "disabled"
    assert "WGM_GOOD_ENABLED" in plugins["good"]["reason"]
    assert d.get("/fixtures/good").status_code == 404
    assert_error(d.request("POST", "/fixtures/echo", json={"s": "x" * 2000}), 413, "PAYLOAD_TOO_LARGE")
    bad = Wgmd(tmp, env={"WGM_HTTP_THREADS": "lots"})
    rc, out = bad.check()
    assert rc != 0 and "env WGM_HTTP_THREADS" in out


def test_disabled_absent_plugin_dropin_is_accepted(tmp):
    """Distributions ship drop-ins for separately packaged plugins."""
    d = Wgmd(tmp, dropins={"30-bgp.conf": "[bgp]\nenabled = no\n"})
    assert d.check()[0] == 0
    d = Wgmd(tmp, dropins={"30-bgp.conf": "[bgp]\nenabled = yes\n"})
    rc, out = d.check()
    assert rc != 0 and "30-bgp.conf:2" in out


def test_listen_short_form(daemons, tmp):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = daemons(env={"WGM_LISTEN": "127.0.0.1:%d" % port})
    assert d.port == port


def test_version_flag():
    out = subprocess.run([WGMD, "-V"], capture_output=True, text=True, timeout=10).stdout
    assert re.match(r"wgmd \d+\.\d+\.\d+ \(plugin ABI 1\.2, wgm1:", out)


def test_bad_listen_address_fails_clearly(tmp):
    d = Wgmd(tmp, listen="not-an-address:80")
    d.start(wait=False)
    assert d.wait_exit() != 0
    assert "not an IPv4 or IPv6 address" in d.log_text()


def test_ipv6_listen(daemons):
    d = daemons(listen="[::1]:0")
    r = requests.get("http://[::1]:%d/api/v1/version" % d.port, timeout=5)
    assert r.status_code == 200


# --- state directory and master key -------------------------------------------

def test_master_key_created_0600_and_checked(daemons, tmp):
    d = daemons()
    key = os.path.join(d.state, "master.key")
    st = os.stat(key)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == 32
    assert stat.S_IMODE(os.stat(d.state).st_mode) == 0o700
    d.stop()
    os.chmod(key, 0o644)
    d2 = Wgmd(tmp)
    d2.env["WGM_STATE_DIR"] = d.state
    d2.start(wait=False)
    assert d2.wait_exit() != 0
    assert "must be 0600" in d2.log_text()


def test_tls(daemons, tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    d = daemons(config="[http]\ntls_cert = %s\ntls_key = %s\n" % (cert, key))
    r = requests.get("https://127.0.0.1:%d/api/v1/version" % d.port, verify=cert, timeout=5)
    assert r.status_code == 200 and r.json()["success"] is True
    with pytest.raises(requests.ConnectionError):
        requests.get("http://127.0.0.1:%d/api/v1/version" % d.port, timeout=3)
