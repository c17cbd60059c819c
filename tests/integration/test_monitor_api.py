"""monitor.so on a real wgmd: the dashboard with figures read from /proc
(checked against /proc here, and against a fixture tree through proc_root),
history written to the database and read back, alert rules that fire after
their duration and resolve, a webhook receiver on loopback getting the
JSON (bearer token, HMAC signature, cooldown), WebSocket clients receiving
system_status and alert, /metrics checked with promtool, and bad input and
permissions on every endpoint."""
import glob
import hashlib
import hmac
import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.parse

import pytest
import requests

from conftest import BACKEND, PREFIX, WGMD, assert_error, mysql_cli
from test_websocket import connect

PLUGINS = os.path.join(PREFIX, "lib", "wgm", "plugins")
MONITOR = os.path.join(PLUGINS, "monitor.so")
WIREGUARD = os.path.join(PLUGINS, "wireguard.so")
FIXTURE_ROOT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "procfs", "normal")
# (MemTotal - MemAvailable) / MemTotal of the fixture's meminfo
FIXTURE_MEMORY_USAGE = (16318480 - 12345678) / 16318480 * 100

pytestmark = pytest.mark.skipif(not os.path.exists(MONITOR), reason="monitor.so is not installed in " + PREFIX)


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST."""

    def __init__(self, status=200):
        self.requests = []
        self.status = status
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n, timeout=20):
        deadline = time.time() + timeout
        while len(self.requests) < n and time.time() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= n, "webhook got %d request(s), want %d" % (len(self.requests), n)
        return self.requests[n - 1]

    def close(self):
        self.server.shutdown()


def secret_file(tmp_path, name, content, mode=0o600):
    p = tmp_path / name
    p.write_text(content)
    os.chmod(p, mode)
    return str(p)


def monitor_conf(**kw):
    conf = {"enabled": "yes", "interval": "1", "prometheus": "auth"}
    conf.update({k: str(v) for k, v in kw.items()})
    return {"80-monitor.conf": "[monitor]\n" + "".join("%s = %s\n" % kv for kv in conf.items())}


@pytest.fixture
def mon(daemons):
    d = daemons(plugins=[MONITOR], dropins=monitor_conf())
    return d, d.login()


def db_rows(d, sql):
    if BACKEND == "mysql":
        name = urllib.parse.urlparse(d.env["WGM_DATABASE_URL"]).path.lstrip("/")
        out = mysql_cli(sql, database=name)
        return [tuple(line.split("\t")) for line in out.splitlines() if line]
    path = [p for p in glob.glob(os.path.join(d.state, "*.db")) if os.path.getsize(p) > 0][0]
    with sqlite3.connect(path) as c:
        return [tuple(str(x) for x in row) for row in c.execute(sql)]


def now_iso(offset=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


# --- dashboard ---------------------------------------------------------------

def meminfo_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024


def test_dashboard_reads_this_machine(mon):
    d, tok = mon
    r = d.call("GET", "/monitoring/dashboard?refresh=true", token=tok)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) >= {"system_metrics", "application_metrics", "service_metrics", "alerts"}
    sm = data["system_metrics"]
    assert sm["cpu"]["cores"] == os.cpu_count()
    assert 0 <= sm["cpu"]["usage"] <= 100
    assert len(sm["cpu"]["load_average"]) == 3
    assert sm["memory"]["total"] == meminfo_total()
    assert sm["memory"]["used"] + sm["memory"]["free"] == sm["memory"]["total"]
    assert 0 < sm["memory"]["usage_percent"] < 100
    with open("/proc/net/dev") as f:
        names = {line.split(":")[0].strip() for line in f.readlines()[2:]}
    got = {i["name"] for i in sm["network"]["interfaces"]}
    # the totals' rule: loopback traffic is left out, of the list too
    assert got <= names - {"lo"} and "lo" not in got
    for key in ("total", "used", "free", "usage_percent", "read_iops", "write_iops"):
        assert key in sm["disk"]
    app = data["application_metrics"]
    assert app["database"]["pool_size"] >= 1 and app["database"]["checked_out"] >= 0
    assert set(app["cache"]) >= {"hit_rate", "miss_rate", "memory_usage", "keys_count"}
    assert set(app["api"]) >= {"requests_per_minute", "response_time_avg", "error_rate", "active_connections"}
    assert app["api"]["active_connections"] >= 1  # this request's connection
    # neither wireguard.so nor bgp.so is loaded: no service figures invented
    assert data["service_metrics"] == {}
    assert data["alerts"]["active"] == 0 and data["alerts"]["recent"] == []


def test_dashboard_application_rates_follow_requests(mon):
    d, tok = mon
    for _ in range(30):
        d.call("GET", "/monitoring/metrics", token=tok)
    d.call("GET", "/nope", token=tok)
    time.sleep(1.2)
    app = d.call("GET", "/monitoring/dashboard?refresh=true", token=tok).json()["data"]["application_metrics"]
    assert app["api"]["requests_per_minute"] > 0
    assert app["api"]["response_time_avg"] is not None and app["api"]["response_time_avg"] >= 0
    assert app["api"]["error_rate"] is not None and app["api"]["error_rate"] > 0


def test_dashboard_fixture_root(daemons):
    d = daemons(plugins=[MONITOR], dropins=monitor_conf(proc_root=os.path.abspath(FIXTURE_ROOT)))
    tok = d.login()
    sm = d.call("GET", "/monitoring/dashboard", token=tok).json()["data"]["system_metrics"]
    assert sm["memory"]["total"] == 16318480 * 1024
    assert abs(sm["memory"]["usage_percent"] - FIXTURE_MEMORY_USAGE) < 1e-9
    assert sm["cpu"]["temperature"] is not None
    assert sm["cpu"]["load_average"] is not None
    # the fixture's net/dev has lo, eth0 and wg0: lo is in neither the totals nor the list
    ifs = {i["name"]: i for i in sm["network"]["interfaces"]}
    assert set(ifs) == {"eth0", "wg0"}
    assert ifs["eth0"]["bytes_sent"] == 41013 and ifs["wg0"]["bytes_recv"] == 1000


@pytest.mark.parametrize("query,field", [("time_range=2h", "time_range"), ("refresh=maybe", "refresh")])
def test_dashboard_bad_input(mon, query, field):
    d, tok = mon
    r = d.call("GET", "/monitoring/dashboard?" + query, token=tok)
    assert_error(r, 422, "VALIDATION_ERROR")
    assert field in r.json()["error"]["details"]


@pytest.mark.skipif(not os.path.exists(WIREGUARD), reason="wireguard.so is not built")
def test_dashboard_service_metrics_from_wireguard_status(daemons):
    drop = monitor_conf()
    drop["50-wireguard.conf"] = "[wireguard]\nenabled = yes\nbackend = userspace\nstatus_interval_ms = 1000\n"
    d = daemons(plugins=[MONITOR, WIREGUARD], dropins=drop)
    tok = d.login()
    deadline = time.time() + 10
    while time.time() < deadline:
        sm = d.call("GET", "/monitoring/dashboard", token=tok).json()["data"]["service_metrics"]
        if "wireguard" in sm:
            break
        time.sleep(0.2)
    assert sm["wireguard"] == {"servers_count": 0, "clients_count": 0, "total_traffic": 0, "active_connections": 0}
    assert "bgp" not in sm


def test_dashboard_service_metrics_from_bgp_status(daemons):
    """bgp_status as bgp.so publishes it (here through the test fixture's
    publish route): the dashboard and the bgp.* metrics follow it."""
    d = daemons(plugins=[MONITOR, "slow"], dropins=monitor_conf())
    tok = d.login()
    status = {"available": True, "sessions_count": 3, "established_sessions": 2, "routes_received": 150,
              "routes_advertised": 25, "sessions": []}
    r = d.call("POST", "/fixtures/publish", token=tok, json={"topic": "bgp_status", "data": status, "count": 1})
    assert r.status_code == 200, r.text
    deadline = time.time() + 10
    while time.time() < deadline:
        data = d.call("GET", "/monitoring/dashboard?refresh=true", token=tok).json()["data"]
        if "bgp" in data["service_metrics"]:
            break
        time.sleep(0.2)
    assert data["service_metrics"]["bgp"] == {"available": True, "sessions_count": 3, "established_sessions": 2,
                                              "routes_received": 150, "routes_advertised": 25}
    current = {m["name"]: m["current_value"] for m in
               d.call("GET", "/monitoring/metrics", token=tok).json()["data"]["metrics"]}
    assert current["bgp.established_sessions"] == 2 and current["bgp.sessions_down"] == 1
    assert current["wireguard.clients_count"] is None  # wireguard.so is not loaded


# --- metrics and history -------------------------------------------------------

def test_metric_list(mon):
    d, tok = mon
    r = d.call("GET", "/monitoring/metrics", token=tok)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    names = {m["name"]: m for m in data["metrics"]}
    for spec_name in ("cpu.usage", "memory.usage", "disk.usage", "network.bytes_sent"):
        assert spec_name in names
    assert names["cpu.usage"]["unit"] == "percent" and names["cpu.usage"]["deprecated"] is False
    assert data["intervals"] == ["1m", "5m", "15m", "1h", "raw"]
    # rates say so in their names; the old counter-like names are listed as deprecated aliases
    for old in ("bytes_sent", "bytes_recv", "packets_sent", "packets_recv", "errors", "drops"):
        new = "network.%s_per_second" % old
        assert names[new]["deprecated"] is False and "replaced_by" not in names[new]
        assert names[new]["unit"].endswith("per_second")
        alias = names["network." + old]
        assert alias["deprecated"] is True and alias["replaced_by"] == new
        assert alias["unit"] == names[new]["unit"]
    assert [m for m in data["metrics"] if m["deprecated"]] == [m for m in data["metrics"] if "replaced_by" in m]


def test_history_by_deprecated_name(daemons):
    """The raw ring answers under the new name and the old one alike (the
    fixture's counters stand still: rates of 0 from the second sample on)."""
    d = daemons(plugins=[MONITOR], dropins=monitor_conf(proc_root=os.path.abspath(FIXTURE_ROOT)))
    tok = d.login()
    deadline = time.time() + 15
    while time.time() < deadline:
        got = {}
        for name in ("network.bytes_recv_per_second", "network.bytes_recv"):
            r = d.call("GET", "/monitoring/metrics/system?metric=%s&interval=raw&start_time=%s&end_time=%s"
                       % (name, now_iso(-600), now_iso(60)), token=tok)
            assert r.status_code == 200, r.text
            got[name] = r.json()["data"]
        if got["network.bytes_recv"]["data_points"]:
            break
        time.sleep(0.5)
    new, old = got["network.bytes_recv_per_second"], got["network.bytes_recv"]
    assert new["metric"] == old["metric"] == "network.bytes_recv_per_second"
    assert new["unit"] == old["unit"] == "bytes_per_second"
    assert old["data_points"], "no rate sampled"
    # one series: asked later, the old name has every point the new one had
    assert {p["timestamp"] for p in new["data_points"]} <= {p["timestamp"] for p in old["data_points"]}


@pytest.mark.parametrize("query,fields", [
    ("start_time=%(s)s&end_time=%(e)s", ["metric"]),
    ("metric=cpu.usage&end_time=%(e)s", ["start_time"]),
    ("metric=cpu.usage&start_time=%(s)s", ["end_time"]),
    ("", ["metric", "start_time", "end_time"]),
])
def test_history_missing_parameter(mon, query, fields):
    """Absent required query parameters: 400 MISSING_PARAMETER naming each."""
    d, tok = mon
    r = d.call("GET", "/monitoring/metrics/system?" + query % {"s": now_iso(-3600), "e": now_iso()}, token=tok)
    assert_error(r, 400, "MISSING_PARAMETER")
    assert set(r.json()["error"]["details"]) == set(fields), r.text


@pytest.mark.parametrize("query,field", [
    ("metric=cpu.nope&start_time=%(s)s&end_time=%(e)s", "metric"),
    ("metric=&start_time=%(s)s&end_time=%(e)s", "metric"),
    ("metric=cpu.usage&start_time=yesterday&end_time=%(e)s", "start_time"),
    ("metric=cpu.usage&start_time=%(s)s&end_time=2024-13-01T00:00:00Z", "end_time"),
    ("metric=cpu.usage&start_time=%(e)s&end_time=%(s)s", "end_time"),
    ("metric=cpu.usage&start_time=%(s)s&end_time=%(e)s&interval=2m", "interval"),
    ("metric=cpu.usage&start_time=2020-01-01T00:00:00Z&end_time=%(e)s&interval=1m", "interval"),
    ("metric=cpu.usage&start_time=1990-01-01T00:00:00Z&end_time=%(e)s", "end_time"),
    ("metric=cpu.usage&start_time=%(s)s&end_time=%(e)s&host=" + "h" * 80, "host"),
])
def test_history_bad_input(mon, query, field):
    d, tok = mon
    r = d.call("GET", "/monitoring/metrics/system?" + query % {"s": now_iso(-3600), "e": now_iso()}, token=tok)
    assert_error(r, 422, "VALIDATION_ERROR")
    assert field in r.json()["error"]["details"], r.text


def test_history_returns_the_points_written(daemons):
    """Fixture values are constant, so every bucket's min, max and avg is the
    fixture's memory usage; the rows are in the database after a stop (the
    partial buckets are flushed) and read back, merged, after a start."""
    d = daemons(plugins=[MONITOR], dropins=monitor_conf(proc_root=os.path.abspath(FIXTURE_ROOT)))
    tok = d.login()
    start = now_iso(-120)
    time.sleep(3.5)
    raw = d.call("GET", "/monitoring/metrics/system?metric=memory.usage&interval=raw&start_time=%s&end_time=%s"
                 % (start, now_iso(60)), token=tok).json()["data"]
    assert len(raw["data_points"]) >= 3
    assert all(abs(p["value"] - FIXTURE_MEMORY_USAGE) < 1e-9 for p in raw["data_points"])
    d.stop()
    rows = db_rows(d, "SELECT resolution, min_v, max_v, count_v FROM mon_rollups WHERE metric = 'memory.usage'")
    assert {int(r[0]) for r in rows} == {60, 300, 900, 3600}, rows
    written = sum(int(r[3]) for r in rows if int(r[0]) == 3600)
    assert written >= 3
    for res, lo, hi, _ in rows:
        assert abs(float(lo) - FIXTURE_MEMORY_USAGE) < 1e-9 and abs(float(hi) - FIXTURE_MEMORY_USAGE) < 1e-9
    d.start()
    tok = d.login()
    for interval in ("1m", "5m", "15m", "1h"):
        r = d.call("GET", "/monitoring/metrics/system?metric=system.memory.usage&interval=%s&start_time=%s&end_time=%s"
                   % (interval, now_iso(-7200), now_iso(60)), token=tok)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["metric"] == "memory.usage" and data["unit"] == "percent" and data["interval"] == interval
        pts = data["data_points"]
        assert pts and all(abs(p["value"] - FIXTURE_MEMORY_USAGE) < 1e-9 for p in pts)
        assert all(p["tags"]["host"] for p in pts)
        assert sum(p["count"] for p in pts) >= written
        st = data["statistics"]
        assert st["count"] == len(pts) and abs(st["avg"] - FIXTURE_MEMORY_USAGE) < 1e-9
    # another host's series is empty, not this one's
    r = d.call("GET", "/monitoring/metrics/system?metric=memory.usage&host=elsewhere&start_time=%s&end_time=%s"
               % (now_iso(-3600), now_iso()), token=tok)
    assert r.json()["data"]["data_points"] == [] and r.json()["data"]["statistics"]["avg"] is None


# --- alert rules -----------------------------------------------------------------

RULE = {"name": "memory high", "description": "always true here", "metric_name": "system.memory.usage",
        "condition": ">", "threshold": 85.0, "level": "error", "duration": 300, "enabled": True,
        "cooldown_minutes": 5, "notification_channels": [], "tags": {"environment": "test"}}


def test_rule_crud(mon):
    d, tok = mon
    r = d.call("POST", "/monitoring/alerts/rules", token=tok, json=RULE)
    assert r.status_code == 201, r.text
    rule = r.json()["data"]
    for k, v in RULE.items():
        assert rule[k] == v, k
    assert rule["state"] == "ok" and isinstance(rule["id"], int)
    rid = rule["id"]
    assert d.call("GET", "/monitoring/alerts/rules/%d" % rid, token=tok).json()["data"] == rule
    d.call("POST", "/monitoring/alerts/rules", token=tok, json=dict(RULE, name="cpu", metric_name="cpu.usage",
                                                                     level="warning", enabled=False))
    lst = d.call("GET", "/monitoring/alerts/rules?size=1", token=tok).json()["data"]
    assert lst["pagination"]["total"] == 2 and len(lst["rules"]) == 1
    assert [x["name"] for x in d.call("GET", "/monitoring/alerts/rules?level=warning", token=tok)
            .json()["data"]["rules"]] == ["cpu"]
    assert [x["name"] for x in d.call("GET", "/monitoring/alerts/rules?enabled=true", token=tok)
            .json()["data"]["rules"]] == ["memory high"]
    r = d.call("PUT", "/monitoring/alerts/rules/%d" % rid, token=tok, json={"threshold": 90, "description": None})
    assert r.status_code == 200, r.text
    up = r.json()["data"]
    assert up["threshold"] == 90.0 and up["name"] == "memory high" and up["level"] == "error"
    assert up["description"] is None and up["duration"] == 300 and up["enabled"] is True
    assert_error(d.call("POST", "/monitoring/alerts/rules", token=tok, json=RULE), 409, "RESOURCE_ALREADY_EXISTS")
    assert_error(d.call("PUT", "/monitoring/alerts/rules/%d" % rid, token=tok, json={"name": "cpu"}), 409,
                 "RESOURCE_ALREADY_EXISTS")
    assert d.call("DELETE", "/monitoring/alerts/rules/%d" % rid, token=tok).status_code == 200
    assert_error(d.call("GET", "/monitoring/alerts/rules/%d" % rid, token=tok), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("DELETE", "/monitoring/alerts/rules/%d" % rid, token=tok), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("PUT", "/monitoring/alerts/rules/999", token=tok, json={"threshold": 1}), 404,
                 "RESOURCE_NOT_FOUND")
    assert_error(d.call("GET", "/monitoring/alerts/rules/abc", token=tok), 404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("field", ["name", "metric_name", "condition", "threshold"])
def test_rule_missing_field(mon, field):
    """An absent required field is 400 MISSING_PARAMETER naming it; nothing is created."""
    d, tok = mon
    body = {k: v for k, v in RULE.items() if k != field}
    r = d.call("POST", "/monitoring/alerts/rules", token=tok, json=body)
    assert_error(r, 400, "MISSING_PARAMETER")
    assert list(r.json()["error"]["details"]) == [field], r.text
    assert d.call("GET", "/monitoring/alerts/rules", token=tok).json()["data"]["pagination"]["total"] == 0
    r = d.call("POST", "/monitoring/alerts/rules", token=tok)
    assert_error(r, 400, "MISSING_PARAMETER")
    assert "body" in r.json()["error"]["details"]


@pytest.mark.parametrize("patch,field", [
    ({"name": ""}, "name"), ({"name": "x" * 129}, "name"),
    ({"metric_name": "cpu.nope"}, "metric_name"),
    ({"condition": "=>"}, "condition"),
    ({"threshold": "85"}, "threshold"),
    ({"level": "fatal"}, "level"), ({"duration": -1}, "duration"), ({"duration": "5"}, "duration"),
    ({"cooldown_minutes": 100000}, "cooldown_minutes"), ({"enabled": "yes"}, "enabled"),
    ({"notification_channels": ["pager"]}, "notification_channels"),
    ({"notification_channels": "webhook"}, "notification_channels"),
    ({"tags": {"a": 1}}, "tags"), ({"tags": []}, "tags"), ({"colour": "red"}, "colour"),
])
def test_rule_bad_input(mon, patch, field):
    d, tok = mon
    body = {k: v for k, v in dict(RULE, **patch).items() if v is not None}
    r = d.call("POST", "/monitoring/alerts/rules", token=tok, json=body)
    assert_error(r, 422, "VALIDATION_ERROR")
    assert field in r.json()["error"]["details"], r.text
    assert d.call("GET", "/monitoring/alerts/rules", token=tok).json()["data"]["pagination"]["total"] == 0
    # the same checks on update, which changes nothing when it fails
    rid = d.call("POST", "/monitoring/alerts/rules", token=tok, json=RULE).json()["data"]["id"]
    if patch.get(field) is not None:
        r = d.call("PUT", "/monitoring/alerts/rules/%d" % rid, token=tok, json=patch)
        assert_error(r, 422, "VALIDATION_ERROR")
    assert_error(d.call("PUT", "/monitoring/alerts/rules/%d" % rid, token=tok, data="[1]",
                        headers={"Content-Type": "application/json"}), 422, "VALIDATION_ERROR")
    assert d.call("GET", "/monitoring/alerts/rules/%d" % rid, token=tok).json()["data"]["threshold"] == 85.0


@pytest.mark.parametrize("query,field", [("status=open", "status"), ("level=fatal", "level"),
                                         ("acknowledged=maybe", "acknowledged"), ("page=0", "page"),
                                         ("size=1000", "size")])
def test_alert_list_bad_input(mon, query, field):
    d, tok = mon
    r = d.call("GET", "/monitoring/alerts?" + query, token=tok)
    assert_error(r, 422, "VALIDATION_ERROR")
    assert field in r.json()["error"]["details"]


def test_acknowledge_unknown(mon):
    d, tok = mon
    assert_error(d.call("POST", "/monitoring/alerts/alert_999/acknowledge", token=tok), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("POST", "/monitoring/alerts/bogus/acknowledge", token=tok), 404, "RESOURCE_NOT_FOUND")


def test_permissions(mon):
    d, admin = mon
    r = d.call("POST", "/users", token=admin, json={"username": "viewer", "email": "v@example.org",
                                                      "password": "Vi3wer-Passw0rd!", "role": "user"})
    assert r.status_code == 201, r.text
    user = d.login("viewer", "Vi3wer-Passw0rd!")
    assert d.call("GET", "/monitoring/dashboard", token=user).status_code == 200
    assert d.call("GET", "/monitoring/alerts/rules", token=user).status_code == 200
    assert_error(d.call("POST", "/monitoring/alerts/rules", token=user, json=RULE), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(d.call("POST", "/monitoring/alerts/alert_1/acknowledge", token=user), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(d.get("/monitoring/dashboard"), 401, "TOKEN_INVALID")


# --- firing, notifications, WebSocket ----------------------------------------------

def wait_ws(ws, type_, pred=lambda m: True, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = ws.recv_json(timeout=max(0.1, deadline - time.time()))
        if m["type"] == type_ and pred(m):
            return m
    raise AssertionError("no %s message" % type_)


def test_rule_fires_after_duration_notifies_and_resolves(daemons, tmp_path):
    hook = Receiver()
    token = "hook-token-" + os.urandom(4).hex()
    key = os.urandom(16).hex()
    d = daemons(plugins=[MONITOR], dropins=monitor_conf(
        webhook_url=hook.url, webhook_retries=0, webhook_token_file=secret_file(tmp_path, "token", token + "\n"),
        webhook_hmac_key_file=secret_file(tmp_path, "hmac", key)))
    try:
        tok = d.login()
        ws, _ = connect(d, tok)
        status = wait_ws(ws, "system_status")
        assert set(status["data"]) >= {"cpu_usage", "memory_usage", "disk_usage", "network_traffic"}
        assert set(status["data"]["network_traffic"]) >= {"bytes_sent", "bytes_recv"}

        created = time.time()
        rule = d.call("POST", "/monitoring/alerts/rules", token=tok, json=dict(
            RULE, threshold=0, duration=3, notification_channels=["webhook"])).json()["data"]
        msg = wait_ws(ws, "alert", lambda m: m["data"]["status"] == "active")
        assert time.time() - created >= 2.5, "fired before the condition held for its duration"
        a = msg["data"]
        assert a["name"] == "memory high" and a["level"] == "error" and a["threshold"] == 0
        assert a["current_value"] > 0 and a["id"].startswith("alert_") and a["message"]
        headers, body = hook.wait(1)
        sent = json.loads(body)
        assert sent["type"] == "alert" and sent["data"]["id"] == a["id"] and sent["data"]["status"] == "active"
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"] == "Bearer " + token
        assert headers["X-WGM-Signature"] == "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()

        dash = d.call("GET", "/monitoring/dashboard", token=tok).json()["data"]["alerts"]
        assert dash["active"] == 1 and dash["error"] == 1 and dash["recent"][0]["id"] == a["id"]
        lst = d.call("GET", "/monitoring/alerts?status=active&level=error", token=tok).json()["data"]
        assert [x["id"] for x in lst["alerts"]] == [a["id"]]
        r = d.call("POST", "/monitoring/alerts/%s/acknowledge" % a["id"], token=tok)
        assert r.status_code == 200 and r.json()["data"]["acknowledged"] is True, r.text
        assert r.json()["data"]["acknowledged_by"] == "admin"
        assert d.call("GET", "/monitoring/alerts?acknowledged=false", token=tok).json()["data"]["alerts"] == []

        # stops holding: resolves, and the resolution is notified
        d.call("PUT", "/monitoring/alerts/rules/%d" % rule["id"], token=tok, json={"threshold": 1000})
        msg = wait_ws(ws, "alert", lambda m: m["data"]["status"] == "resolved")
        assert msg["data"]["id"] == a["id"]
        headers, body = hook.wait(2)
        assert json.loads(body)["data"]["status"] == "resolved"
        assert d.call("GET", "/monitoring/alerts?status=resolved", token=tok).json()["data"]["alerts"][0]["id"] == a["id"]

        # fires again within the cooldown: a new alert, but no notification
        d.call("PUT", "/monitoring/alerts/rules/%d" % rule["id"], token=tok, json={"threshold": 0, "duration": 0})
        msg = wait_ws(ws, "alert", lambda m: m["data"]["status"] == "active")
        assert msg["data"]["id"] != a["id"]
        time.sleep(2)
        assert len(hook.requests) == 2, "re-notified within the cooldown"
        ws.close()
    finally:
        hook.close()


def test_disabled_rule_never_fires(mon):
    d, tok = mon
    d.call("POST", "/monitoring/alerts/rules", token=tok, json=dict(RULE, threshold=0, duration=0, enabled=False))
    time.sleep(2.5)
    assert d.call("GET", "/monitoring/alerts", token=tok).json()["data"]["alerts"] == []


def hook_alerts(hook):
    """(rule_id, status, level) of every alert the receiver got, in order."""
    out = []
    for _, body in list(hook.requests):
        m = json.loads(body)
        out.append((m["data"]["rule_id"], m["data"]["status"], m["data"]["level"]))
    return out


def wait_hook(hook, want, timeout=20):
    """Until every (rule_id, status) of @want has been notified."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = {(r, st) for r, st, _ in hook_alerts(hook)}
        if want <= got:
            return
        time.sleep(0.05)
    raise AssertionError("webhook got %r, want %r" % (hook_alerts(hook), want))


def active_rules(d, tok):
    alerts = d.call("GET", "/monitoring/alerts?status=active&size=100", token=tok).json()["data"]["alerts"]
    return sorted(a["rule_id"] for a in alerts)


def test_every_rule_is_evaluated(daemons):
    """Several rules on different metrics, conditions and levels fire,
    resolve and notify each on its own, and a rule added, changed or
    deleted while running takes effect at the next samples.  (Until the
    fix only the rule with the lowest id was ever evaluated.)  The fixture
    tree keeps every value constant: memory.usage about 24, load 0.52 1.05
    2.50, temperature below 100."""
    hook = Receiver()
    d = daemons(plugins=[MONITOR], dropins=monitor_conf(
        proc_root=os.path.abspath(FIXTURE_ROOT), webhook_url=hook.url, webhook_retries=0))
    try:
        tok = d.login()
        ws, _ = connect(d, tok)

        def rule(name, metric, cond, threshold, level):
            r = d.call("POST", "/monitoring/alerts/rules", token=tok, json={
                "name": name, "metric_name": metric, "condition": cond, "threshold": threshold, "level": level,
                "duration": 0, "cooldown_minutes": 0, "notification_channels": ["webhook"]})
            assert r.status_code == 201, r.text
            return r.json()["data"]["id"]

        a = rule("mem", "memory.usage", ">", 10, "warning")
        b = rule("load", "cpu.load5", ">=", 1.05, "critical")
        c = rule("temp", "system.cpu.temperature", "<", 100, "info")
        never = rule("never", "cpu.load15", "<", 0, "error")
        assert a < b < c < never

        wait_hook(hook, {(a, "active"), (b, "active"), (c, "active")})
        seen = set()
        deadline = time.time() + 20
        while seen != {a, b, c} and time.time() < deadline:
            m = wait_ws(ws, "alert", lambda m: m["data"]["status"] == "active", timeout=deadline - time.time())
            seen.add(m["data"]["rule_id"])
        assert seen == {a, b, c}
        levels = {r: lv for r, st, lv in hook_alerts(hook)}
        assert levels == {a: "warning", b: "critical", c: "info"}
        assert all(json.loads(body)["app_name"] == "wgm" for _, body in hook.requests)
        assert active_rules(d, tok) == [a, b, c]
        states = {x["id"]: x["state"] for x in
                  d.call("GET", "/monitoring/alerts/rules", token=tok).json()["data"]["rules"]}
        assert states == {a: "firing", b: "firing", c: "firing", never: "ok"}
        dash = d.call("GET", "/monitoring/dashboard", token=tok).json()["data"]["alerts"]
        assert (dash["active"], dash["warning"], dash["critical"], dash["info"], dash["error"]) == (3, 1, 1, 1, 0)

        # one rule stops holding: it alone resolves and is notified
        n = len(hook.requests)
        assert d.call("PUT", "/monitoring/alerts/rules/%d" % b, token=tok, json={"condition": "<"}).status_code == 200
        wait_hook(hook, {(b, "resolved")})
        assert active_rules(d, tok) == [a, c]

        # a rule changed to hold fires; a rule added while running fires
        r = d.call("PUT", "/monitoring/alerts/rules/%d" % never, token=tok, json={"condition": ">", "threshold": 2})
        assert r.status_code == 200, r.text
        wait_hook(hook, {(never, "active")})
        e = rule("used", "memory.used", ">", 0, "warning")
        wait_hook(hook, {(e, "active")})
        assert active_rules(d, tok) == [a, c, never, e]

        # a deleted rule's alert is resolved with it and the rule is never evaluated again
        assert d.call("DELETE", "/monitoring/alerts/rules/%d" % a, token=tok).status_code == 200
        assert active_rules(d, tok) == [c, never, e]
        # three sampling rounds (interval = 1 s) with margin: no rule notifies twice,
        # cooldown 0 notwithstanding, and the deleted one does not come back
        time.sleep(4)
        got = hook_alerts(hook)
        assert len(got) == len(set((r, st) for r, st, _ in got)), got
        assert (a, "resolved") not in {(r, st) for r, st, _ in got}
        assert active_rules(d, tok) == [c, never, e]
        assert n == 3
        dash = d.call("GET", "/monitoring/dashboard", token=tok).json()["data"]["alerts"]
        assert (dash["active"], dash["warning"], dash["critical"], dash["info"], dash["error"]) == (3, 1, 0, 1, 1)
        ws.close()
    finally:
        hook.close()


class SmtpSink:
    """A minimal SMTP server on 127.0.0.1 (no TLS, no AUTH) that keeps the
    DATA of every message; enough for libcurl's smtp:// client."""

    def __init__(self):
        import socket
        self.messages = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "smtp://127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        f = conn.makefile("rb")
        conn.sendall(b"220 sink ESMTP\r\n")
        try:
            for _ in range(100):
                line = f.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-sink\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    data = b""
                    while not data.endswith(b"\r\n.\r\n") and len(data) < 1 << 20:
                        chunk = f.readline()
                        if not chunk:
                            return
                        data += chunk
                    self.messages.append(data.decode("utf-8", "replace"))
                    conn.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")
        finally:
            conn.close()

    def close(self):
        self.sock.close()


def subject_of(message):
    for line in message.split("\r\n"):
        if line.startswith("Subject: "):
            return line[len("Subject: "):]
    return None


def test_app_name_in_notifications(daemons):
    """The mail subject and the webhook payload carry /system/config's
    app_name: "wgm" by default, and the new name from the next notification
    after a PUT (the core publishes system.config on each change)."""
    hook, smtp = Receiver(), SmtpSink()
    d = daemons(plugins=[MONITOR], dropins=monitor_conf(
        webhook_url=hook.url, webhook_retries=0, email_url=smtp.url, email_from="wgm@example.org",
        email_to="ops@example.org", email_require_tls="no", email_retries=0))
    try:
        tok = d.login()
        body = dict(RULE, threshold=0, duration=0, cooldown_minutes=0, notification_channels=["webhook", "email"])
        rid = d.call("POST", "/monitoring/alerts/rules", token=tok, json=body).json()["data"]["id"]
        _, sent = hook.wait(1)
        assert json.loads(sent)["app_name"] == "wgm"
        deadline = time.time() + 20
        while not smtp.messages and time.time() < deadline:
            time.sleep(0.05)
        assert smtp.messages, "no mail"
        assert subject_of(smtp.messages[0]) == "[wgm error] active: memory high", smtp.messages[0]

        r = d.call("PUT", "/system/config", token=tok, json={"app_name": "Lab VPN"})
        assert r.status_code == 200, r.text
        # resolve, then fire again: both notified under the new name
        d.call("PUT", "/monitoring/alerts/rules/%d" % rid, token=tok, json={"threshold": 1000})
        _, sent = hook.wait(2)
        assert json.loads(sent)["data"]["status"] == "resolved"
        assert json.loads(sent)["app_name"] == "Lab VPN"
        deadline = time.time() + 20
        while len(smtp.messages) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(smtp.messages) >= 2, "no second mail"
        assert subject_of(smtp.messages[1]) == "[Lab VPN error] resolved: memory high"
    finally:
        hook.close()
        smtp.close()


def test_rule_success_messages(mon):
    """Creates and actions carry the spec's success message, in Chinese
    when Accept-Language prefers zh."""
    d, tok = mon
    zh = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    r = d.call("POST", "/monitoring/alerts/rules", token=tok, json=RULE)
    assert r.status_code == 201 and r.json()["message"] == "Alert rule created", r.text
    rid = r.json()["data"]["id"]
    r = d.call("POST", "/monitoring/alerts/rules", token=tok, json=dict(RULE, name="zh"), headers=zh)
    assert r.status_code == 201 and r.json()["message"] == "告警规则创建成功", r.text
    r = d.call("PUT", "/monitoring/alerts/rules/%d" % rid, token=tok, json={"threshold": 1}, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "告警规则更新成功", r.text
    r = d.call("DELETE", "/monitoring/alerts/rules/%d" % rid, token=tok)
    assert r.status_code == 200 and r.json()["message"] == "Alert rule deleted", r.text
    # reads carry no message
    assert "message" not in d.call("GET", "/monitoring/alerts/rules", token=tok).json()


def test_sealed_webhook_token(daemons, tmp_path):
    hook = Receiver()
    probe = daemons(plugins=[MONITOR], dropins=monitor_conf(), start=False)
    sealed = subprocess.run([WGMD, "-c", probe.conf, "-s"], input="s3aled-token\n", env=probe.env,
                            capture_output=True, text=True, timeout=30)
    assert sealed.returncode == 0 and sealed.stdout.startswith("sealed:"), sealed.stderr
    assert "s3aled-token" not in sealed.stdout
    probe.dir_conf = monitor_conf(webhook_url=hook.url, webhook_token=sealed.stdout.strip())
    with open(os.path.join(probe.dir, "conf.d", "80-monitor.conf"), "w") as f:
        f.write(probe.dir_conf["80-monitor.conf"])
    probe.start()
    try:
        tok = probe.login()
        probe.call("POST", "/monitoring/alerts/rules", token=tok,
                   json=dict(RULE, threshold=0, duration=0, notification_channels=["webhook"]))
        headers, _ = hook.wait(1)
        assert headers["Authorization"] == "Bearer s3aled-token"
        assert "s3aled-token" not in probe.log_text()
    finally:
        hook.close()


def test_secret_file_readable_by_others_is_refused(daemons, tmp_path):
    d = daemons(plugins=[MONITOR], dropins=monitor_conf(
        webhook_url="http://127.0.0.1:9/", webhook_token_file=secret_file(tmp_path, "t", "x", mode=0o644)))
    d.wait_log(r"readable by group or others")
    tok = d.login()
    states = {p["name"]: p["state"] for p in d.call("GET", "/plugins", token=tok).json()["data"]["plugins"]}
    assert states["monitor"] != "running"


def test_unreachable_webhook_never_blocks_sampling(daemons):
    """A receiver that accepts and never answers: the notification waits in
    its own thread while samples, alerts and the API go on."""
    import socket
    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(8)
    try:
        d = daemons(plugins=[MONITOR], dropins=monitor_conf(
            webhook_url="http://127.0.0.1:%d/" % stall.getsockname()[1], webhook_timeout_ms=60000,
            webhook_retries=0))
        tok = d.login()
        ws, _ = connect(d, tok)
        d.call("POST", "/monitoring/alerts/rules", token=tok,
               json=dict(RULE, threshold=0, duration=0, notification_channels=["webhook"]))
        wait_ws(ws, "alert")
        first = wait_ws(ws, "system_status")
        later = wait_ws(ws, "system_status", lambda m: m["timestamp"] != first["timestamp"])
        assert later
        assert d.call("GET", "/monitoring/alerts", token=tok).status_code == 200
        ws.close()
    finally:
        stall.close()


# --- Prometheus --------------------------------------------------------------------

def promtool_check(text):
    if not shutil.which("promtool"):
        pytest.skip("promtool is not installed")
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_prometheus_auth_mode(mon):
    d, tok = mon
    assert requests.get(d.url + "/metrics", timeout=10).status_code == 401
    r = requests.get(d.url + "/metrics", headers={"Authorization": "Bearer " + tok}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for family in ("process_resident_memory_bytes", "wgm_http_requests_total", "wgm_db_pool_connections",
                   "wgm_cache_lookups_total", "wgm_system_memory_bytes", "wgm_system_network_bytes_total"):
        assert "\n# TYPE %s " % family in r.text, family
    promtool_check(r.text)
    key = d.call("POST", "/auth/api-keys", token=tok, json={"name": "prom", "permissions": ["monitoring.view"],
                                                             "access_level": "read"}).json()["data"]["api_key"]
    assert requests.get(d.url + "/metrics", headers={"Authorization": "Bearer " + key}, timeout=10).status_code == 200


def test_prometheus_loopback_and_off(daemons):
    d = daemons(plugins=[MONITOR], dropins=monitor_conf(prometheus="loopback"))
    r = requests.get(d.url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    promtool_check(r.text)
    d2 = daemons(plugins=[MONITOR], dropins=monitor_conf(prometheus="off"))
    assert requests.get(d2.url + "/metrics", timeout=10).status_code == 404


def _free_udp_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.skipif(not os.path.exists(WIREGUARD) or not shutil.which("wireguard-go"),
                    reason="needs wireguard.so and wireguard-go")
def test_prometheus_per_peer_wireguard_metrics(daemons):
    drop = monitor_conf()
    drop["50-wireguard.conf"] = "[wireguard]\nenabled = yes\nbackend = userspace\n"
    d = daemons(plugins=[MONITOR, WIREGUARD], dropins=drop)
    tok = d.login()
    iface = "wgm" + os.urandom(4).hex()
    r = d.call("POST", "/wireguard/servers", token=tok, json={
        "name": iface, "interface": iface, "listen_port": _free_udp_port(), "ipv4_address": "10.203.0.1/24",
        "ipv6_address": "fd77:203::1/64", "auto_start": True})
    assert r.status_code == 201, r.text
    sid = r.json()["data"]["id"]
    try:
        r = d.call("POST", "/wireguard/clients", token=tok, json={"name": "peer-one", "server_id": sid})
        assert r.status_code == 201, r.text
        c = r.json()["data"]
        text = requests.get(d.url + "/metrics", headers={"Authorization": "Bearer " + tok}, timeout=10).text
        promtool_check(text)
        line = [x for x in text.splitlines() if x.startswith("wgm_wireguard_peer_last_handshake_seconds{")]
        assert len(line) == 1, text
        assert 'interface="%s"' % iface in line[0] and 'client="peer-one"' in line[0]
        assert 'public_key="%s"' % c["public_key"] in line[0] and 'client_id="%d"' % c["id"] in line[0]
        assert line[0].endswith(" 0")  # never handshaken: the device says 0
        assert any(x.startswith("wgm_wireguard_peer_receive_bytes_total{") for x in text.splitlines())
    finally:
        d.call("DELETE", "/wireguard/servers/%d?force=true" % sid, token=tok)
