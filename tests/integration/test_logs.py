"""The log store over real HTTP: the audit trail of state-changing requests,
GET /logs filters and pagination, exports in every format and their
download, and the store's configuration.  Records reach the database through
a batching writer, so checks poll until what they wait for is there."""
import calendar
import csv
import io
import json
import os
import re
import stat
import time
import uuid

import pytest
import requests

from conftest import assert_error

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
NAME = re.compile(r"logs_\d{8}_\d{6}_[0-9a-f]{16}\.(json|csv|txt)")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def marker():
    return "m" + uuid.uuid4().hex[:12]


@pytest.fixture
def env(daemons):
    d = daemons()
    data = d.login(full=True)
    tok = data["access_token"]
    # Many calls per test: lift the limits through the API (itself audited).
    r = d.call("PUT", "/system/config", token=tok, json={"api_rate_limit": 1000000, "anonymous_rate_limit": 1000000})
    assert r.status_code == 200, r.text
    return d, tok, data["user"]["id"]


def get_logs(d, tok, **params):
    r = d.call("GET", "/logs", token=tok, params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def all_logs(d, tok, **params):
    out, page = [], 1
    while True:
        data = get_logs(d, tok, size=100, page=page, **params)
        out += data["logs"]
        if not data["pagination"]["has_next"]:
            return out
        page += 1


def wait_logs(d, tok, count=1, timeout=15, **params):
    """Poll GET /logs until at least @count records match."""
    deadline = time.time() + timeout
    while True:
        data = get_logs(d, tok, **params)
        if data["pagination"]["total"] >= count or time.time() > deadline:
            assert data["pagination"]["total"] >= count, "wanted %d records for %r, got %r" % (count, params, data)
            return data
        time.sleep(0.1)


# --- the audit trail --------------------------------------------------------

def wait_audit(d, tok, rid, timeout=15):
    """The audit record of the request with X-Request-ID @rid."""
    deadline = time.time() + timeout
    while True:
        found = [x for x in all_logs(d, tok, module="audit") if x["request_id"] == rid]
        if found or time.time() > deadline:
            assert len(found) == 1, "audit records for %s: %r" % (rid, found)
            return found[0]
        time.sleep(0.1)


def test_mutating_request_is_audited(env):
    d, tok, uid = env
    m = marker()
    rid = "req-audit-" + m
    # a real route, refused by validation: authenticated, so the user is known
    r = d.call("POST", "/users", token=tok, json={"password": "Secret-" + m}, headers={"X-Request-ID": rid})
    assert r.status_code in (400, 422), r.text
    rec = wait_audit(d, tok, rid)
    assert rec["level"] == "WARN"
    assert rec["message"] == "POST /api/v1/users -> %d" % r.status_code
    assert rec["module"] == "audit"
    assert rec["user_id"] == uid
    assert rec["api_key_id"] is None
    assert rec["ip_address"] == "127.0.0.1"
    assert TS.fullmatch(rec["timestamp"])
    assert isinstance(rec["tags"], list)
    det = rec["details"]
    assert det["method"] == "POST" and det["status"] == r.status_code and det["outcome"] == "error"
    assert det["path"] == "/api/v1/users" and det["route"] == "/api/v1/users"
    assert det["username"] == "admin"
    assert isinstance(det["duration_ms"], (int, float)) and det["duration_ms"] >= 0
    # the body (with its password) is nowhere in the store
    assert get_logs(d, tok, search="Secret-" + m)["pagination"]["total"] == 0
    assert all("Secret-" + m not in json.dumps(x) for x in all_logs(d, tok))


def test_unrouted_request_is_audited_with_its_path(env):
    d, tok, uid = env
    m = marker()
    r = d.call("POST", "/no-such-endpoint-" + m, token=tok, headers={"X-Request-ID": "req-" + m})
    assert r.status_code == 404
    rec = wait_logs(d, tok, module="audit", search=m)["logs"][0]
    assert rec["message"] == "POST /api/v1/no-such-endpoint-%s -> 404" % m
    assert rec["request_id"] == "req-" + m and rec["level"] == "WARN"
    assert rec["details"]["route"] is None and rec["details"]["outcome"] == "error"


def test_audit_uses_the_route_template_and_skips_reads(env):
    d, tok, uid = env
    r = d.call("PUT", "/system/config", token=tok, json={"api_rate_limit": 1000000})
    assert r.status_code == 200
    rec = wait_audit(d, tok, r.headers["X-Request-ID"])
    assert rec["level"] == "INFO" and rec["message"] == "PUT /api/v1/system/config -> 200"
    assert rec["details"]["route"] == "/api/v1/system/config" and rec["details"]["outcome"] == "success"
    assert rec["user_id"] == uid
    r = d.call("DELETE", "/users/987654", token=tok)
    rec = wait_audit(d, tok, r.headers["X-Request-ID"])
    assert rec["message"] == "DELETE /api/v1/users/{id} -> %d" % r.status_code
    assert rec["details"]["path"] == "/api/v1/users/987654"
    # reads are not audited: every GET above left no audit record
    for x in all_logs(d, tok, module="audit"):
        assert x["details"]["method"] in ("POST", "PUT", "PATCH", "DELETE"), x


def test_denied_login_is_audited_without_the_password(env):
    d, tok, uid = env
    pw = "Wr0ng-" + marker()
    r = d.request("POST", "/auth/login", json={"username": "admin", "password": pw})
    assert r.status_code == 401
    rec = wait_audit(d, tok, r.headers["X-Request-ID"])
    assert rec["details"]["outcome"] == "denied" and rec["level"] == "WARN"
    assert rec["user_id"] is None
    assert get_logs(d, tok, search=pw)["pagination"]["total"] == 0
    assert all(pw not in json.dumps(x) for x in all_logs(d, tok))


def test_api_key_requests_carry_the_key_id(env):
    d, tok, uid = env
    r = d.call("POST", "/auth/api-keys", token=tok, json={"name": "audited", "permissions": ["logs.view"]})
    assert r.status_code == 201, r.text
    key = r.json()["data"]
    r = d.call("DELETE", "/users/987654", token=key["api_key"])
    assert r.status_code == 403
    rec = wait_audit(d, tok, r.headers["X-Request-ID"])
    assert rec["api_key_id"] == key["id"]
    assert rec["user_id"] == uid  # the key's owner
    assert rec["details"]["outcome"] == "denied"
    assert key["api_key"] not in json.dumps(all_logs(d, tok))
    # the key may read the logs it has permission for
    assert d.call("GET", "/logs", token=key["api_key"]).status_code == 200


# --- GET /logs ----------------------------------------------------------------

def test_sink_lines_are_stored(env):
    d, tok, uid = env
    rec = wait_logs(d, tok, module="http", search="listening on")["logs"][0]
    assert rec["level"] == "INFO" and rec["user_id"] is None and rec["details"] is None


def test_filters(env):
    d, tok, uid = env
    m = marker()
    # '%' and '_' must match themselves only: the second path would match a
    # pattern that used them as wildcards.
    literal = "lit_%s%%pct" % m
    d.call("POST", "/" + literal.replace("%", "%25"), token=tok)
    d.call("POST", "/litX%sYpct" % m, token=tok)
    wait_logs(d, tok, count=2, module="audit", search=m)
    got = get_logs(d, tok, module="audit", search=literal)
    assert [x["details"]["path"] for x in got["logs"]] == ["/api/v1/" + literal]
    assert get_logs(d, tok, module="audit", search=m.upper())["pagination"]["total"] == 2  # case-insensitive

    for level in ("WARN", "warn"):
        got = get_logs(d, tok, level=level, size=100)
        assert got["logs"] and all(x["level"] == "WARN" for x in got["logs"])
    got = get_logs(d, tok, module="audit", size=100)
    assert got["logs"] and all(x["module"] == "audit" for x in got["logs"])
    assert get_logs(d, tok, module="no-such-module")["pagination"]["total"] == 0

    got = wait_logs(d, tok, user_id=str(uid), size=100)  # the fixture's PUT /system/config at least
    assert all(x["user_id"] == uid for x in got["logs"])
    assert get_logs(d, tok, user_id="987654")["pagination"]["total"] == 0

    rec = get_logs(d, tok, module="audit", search=literal)["logs"][0]
    t = rec["timestamp"]
    # an end time without a fraction covers its whole second
    assert rec["id"] in [x["id"] for x in get_logs(d, tok, start_time=t, end_time=t, size=100)["logs"]]
    secs = calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))
    plus1 = time.strftime("%Y-%m-%dT%H:%M:%S+01:00", time.gmtime(secs + 3600))
    assert rec["id"] in [x["id"] for x in get_logs(d, tok, start_time=plus1, end_time=plus1, size=100)["logs"]]
    assert get_logs(d, tok, start_time=iso(time.time() + 86400))["pagination"]["total"] == 0
    assert get_logs(d, tok, end_time="2001-01-01T00:00:00Z")["pagination"]["total"] == 0
    both = get_logs(d, tok, module="audit", search=m, level="WARN", start_time=iso(time.time() - 3600),
                    end_time=iso(time.time() + 60))
    assert both["pagination"]["total"] == 2


def test_pagination_newest_first(env):
    d, tok, uid = env
    m = marker()
    for i in range(5):
        d.call("POST", "/page-%s-%d" % (m, i), token=tok)
    wait_logs(d, tok, count=5, module="audit", search=m)
    p1 = get_logs(d, tok, module="audit", search=m, size=2)
    assert p1["pagination"] == {"page": 1, "size": 2, "total": 5, "pages": 3, "has_next": True, "has_prev": False}
    p3 = get_logs(d, tok, module="audit", search=m, size=2, page=3)
    assert p3["pagination"]["has_next"] is False and p3["pagination"]["has_prev"] is True
    assert len(p3["logs"]) == 1
    ids = [x["id"] for p in (1, 2, 3) for x in get_logs(d, tok, module="audit", search=m, size=2, page=p)["logs"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5
    assert [x["message"].split()[1][-1] for x in p1["logs"]] == ["4", "3"]
    beyond = get_logs(d, tok, module="audit", search=m, size=2, page=9)
    assert beyond["logs"] == [] and beyond["pagination"]["total"] == 5
    default = get_logs(d, tok)
    assert default["pagination"]["page"] == 1 and default["pagination"]["size"] == 20


@pytest.mark.parametrize("params,field", [
    ({"page": "0"}, "page"),
    ({"page": "abc"}, "page"),
    ({"page": "-1"}, "page"),
    ({"size": "0"}, "size"),
    ({"size": "101"}, "size"),
    ({"size": "1e3"}, "size"),
    ({"level": "LOUD"}, "level"),
    ({"level": ""}, "level"),
    ({"start_time": "yesterday"}, "start_time"),
    ({"start_time": "2024-01-01"}, "start_time"),
    ({"end_time": "2024-13-01T00:00:00Z"}, "end_time"),
    ({"end_time": "2024-01-01 00:00:00"}, "end_time"),
    ({"start_time": "2024-01-02T00:00:00Z", "end_time": "2024-01-01T00:00:00Z"}, "end_time"),
    ({"user_id": "abc"}, "user_id"),
    ({"user_id": "0"}, "user_id"),
    ({"user_id": "1; DROP TABLE logs"}, "user_id"),
    ({"module": ""}, "module"),
    ({"module": "m" * 65}, "module"),
    ({"search": "s" * 300}, "search"),
])
def test_list_bad_input_names_the_field(env, params, field):
    d, tok, uid = env
    err = assert_error(d.call("GET", "/logs", token=tok, params=params), 422, "VALIDATION_ERROR")
    assert field in err["details"], err


def test_list_sql_looking_input_is_data(env):
    d, tok, uid = env
    for v in ("' OR 1=1 --", "audit' UNION SELECT 1 --", "\\", "%", "_"):
        assert get_logs(d, tok, module=v)["pagination"]["total"] == 0
    assert get_logs(d, tok, search="' OR '1'='1")["pagination"]["total"] == 0


# --- permissions --------------------------------------------------------------

def test_permissions(env):
    d, tok, uid = env
    r = d.call("POST", "/users", token=tok, json={"username": "plain", "email": "plain@example.com",
                                                   "password": "Str0ng-Passw0rd!x", "role": "user"})
    assert r.status_code == 201, r.text
    user = d.login("plain", "Str0ng-Passw0rd!x")
    good = "/logs/export/download/logs_20240101_000000_0123456789abcdef.json"
    export = "/logs/export?format=json&start_time=2024-01-01T00:00:00Z&end_time=2024-01-02T00:00:00Z"
    for path in ("/logs", export, good):
        assert_error(d.get(path), 401, "TOKEN_INVALID")
        assert_error(d.call("GET", path, token=user), 403, "INSUFFICIENT_PERMISSIONS")
    manager = d.call("POST", "/users", token=tok, json={"username": "boss", "email": "boss@example.com",
                                                         "password": "Str0ng-Passw0rd!x", "role": "manager"})
    assert manager.status_code == 201
    assert d.call("GET", "/logs", token=d.login("boss", "Str0ng-Passw0rd!x")).status_code == 200


# --- export -------------------------------------------------------------------

def export(d, tok, headers=None, **params):
    return d.call("GET", "/logs/export", token=tok, params=params, headers=headers)


@pytest.mark.parametrize("fmt", ["json", "csv", "txt"])
def test_export_matches_the_list(env, fmt):
    d, tok, uid = env
    m = marker()
    for i in range(3):
        d.call("POST", "/export-%s-%d" % (m, i), token=tok, headers={"X-Request-ID": "req-%s-%d" % (m, i)})
    d.call("POST", "/export-%s-q" % m, token=tok, json={"note": 'has "quotes", commas\nand =formulas'})
    wait_logs(d, tok, count=4, module="audit", search=m)
    window = {"start_time": iso(time.time() - 3600), "end_time": iso(time.time() + 60), "module": "audit"}
    listed = all_logs(d, tok, **window)
    r = export(d, tok, format=fmt, **window)
    assert r.status_code == 200, r.text
    meta = r.json()["data"]
    assert meta["format"] == fmt and meta["records"] == len(listed)
    name = meta["download_url"].rsplit("/", 1)[1]
    assert meta["download_url"] == "/api/v1/logs/export/download/" + name and NAME.fullmatch(name)
    assert name.endswith("." + fmt)
    exp = calendar.timegm(time.strptime(meta["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(exp - (time.time() + 3600)) < 120

    # the file: private, in a private directory
    path = os.path.join(d.state, "exports", name)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700

    r = requests.get(d.url + meta["download_url"], headers={"Authorization": "Bearer " + tok}, timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="%s"' % name
    assert r.headers["Content-Type"].startswith({"json": "application/json", "csv": "text/csv",
                                                 "txt": "text/plain"}[fmt])
    assert len(r.content) == meta["file_size"]
    text = r.content.decode("utf-8")
    # exports run oldest first, the list newest first
    want = sorted(listed, key=lambda x: x["id"])
    if fmt == "json":
        got = json.loads(text)
        assert got == want
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert [int(x["id"]) for x in rows] == [x["id"] for x in want]
        for row, rec in zip(rows, want):
            assert row["timestamp"] == rec["timestamp"] and row["level"] == rec["level"]
            assert row["module"] == rec["module"] and row["message"] == rec["message"]
            assert row["request_id"] == (rec["request_id"] or "")
            assert row["user_id"] == (str(rec["user_id"]) if rec["user_id"] else "")
            assert json.loads(row["details"]) == rec["details"]
    else:
        lines = text.splitlines()
        assert len(lines) == len(want)
        for line, rec in zip(lines, want):
            assert rec["message"] in line and rec["level"] in line and "[audit]" in line
            assert line.startswith(rec["timestamp"][:-1])
    assert sum(1 for x in want if m in x["message"]) == 4


def test_export_filters_by_level(env):
    d, tok, uid = env
    m = marker()
    d.call("POST", "/lvl-" + m, token=tok)
    wait_logs(d, tok, module="audit", search=m)
    r = export(d, tok, format="json", level="warn", start_time=iso(time.time() - 3600),
               end_time=iso(time.time() + 60))
    assert r.status_code == 200, r.text
    body = requests.get(d.url + r.json()["data"]["download_url"], headers={"Authorization": "Bearer " + tok},
                        timeout=10).json()
    assert body and all(x["level"] == "WARN" for x in body)
    assert any(m in x["message"] for x in body)


def test_csv_export_quotes_cells(env):
    d, tok, uid = env
    # Formula cells are covered by the unit test (no request can start a
    # stored message with "="); here a comma and quotes must round-trip.
    m = marker()
    d.call("POST", '/csv-%s,"quoted"' % m, token=tok)
    wait_logs(d, tok, module="audit", search=m)
    r = export(d, tok, format="csv", start_time=iso(time.time() - 3600), end_time=iso(time.time() + 60),
               module="audit")
    text = requests.get(d.url + r.json()["data"]["download_url"], headers={"Authorization": "Bearer " + tok},
                        timeout=10).text
    rows = [x for x in csv.DictReader(io.StringIO(text, newline="")) if m in x["message"]]
    assert rows and rows[0]["message"] == 'POST /api/v1/csv-%s,"quoted" -> 404' % m
    for row in csv.reader(io.StringIO(text, newline="")):
        for cell in row:
            assert not cell or cell[0] not in "=+-@", row


@pytest.mark.parametrize("params,fields", [
    ({"start_time": "2024-01-01T00:00:00Z", "end_time": "2024-01-02T00:00:00Z"}, {"format"}),
    ({"format": "json", "end_time": "2024-01-02T00:00:00Z"}, {"start_time"}),
    ({"format": "json", "start_time": "2024-01-01T00:00:00Z"}, {"end_time"}),
    ({}, {"format", "start_time", "end_time"}),
    # absent beats invalid: the answer names only what is missing
    ({"format": "xml", "start_time": "soon"}, {"end_time"}),
])
def test_export_missing_parameter_is_400(env, params, fields):
    d, tok, uid = env
    err = assert_error(export(d, tok, **params), 400, "MISSING_PARAMETER")
    assert set(err["details"]) == fields, err
    assert all(v == "is required" for v in err["details"].values())


@pytest.mark.parametrize("params,field", [
    ({"format": "xml", "start_time": "2024-01-01T00:00:00Z", "end_time": "2024-01-02T00:00:00Z"}, "format"),
    ({"format": "json", "start_time": "soon", "end_time": "2024-01-02T00:00:00Z"}, "start_time"),
    ({"format": "json", "start_time": "2024-01-02T00:00:00Z", "end_time": "2024-01-01T00:00:00Z"}, "end_time"),
    ({"format": "json", "start_time": "2024-01-01T00:00:00Z", "end_time": "2024-02-01T00:00:01Z"}, "end_time"),
    ({"format": "csv", "start_time": "2024-01-01T00:00:00Z", "end_time": "2024-01-02T00:00:00Z",
      "level": "LOUD"}, "level"),
    ({"format": "txt", "start_time": "2024-01-01T00:00:00Z", "end_time": "2024-01-02T00:00:00Z",
      "module": ""}, "module"),
])
def test_export_bad_input_names_the_field(env, params, field):
    d, tok, uid = env
    err = assert_error(export(d, tok, **params), 422, "VALIDATION_ERROR")
    assert field in err["details"], err


def test_export_of_31_days_is_allowed(env):
    d, tok, uid = env
    r = export(d, tok, format="txt", start_time="2024-01-01T00:00:00Z", end_time="2024-02-01T00:00:00Z")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["records"] == 0 and r.json()["data"]["file_size"] == 0


def test_download_refuses_bad_names_and_traversal(env):
    d, tok, uid = env
    auth = {"Authorization": "Bearer " + tok}
    base = d.url + "/api/v1/logs/export/download/"
    for name in ("nope", "logs_20240101_000000_0123456789abcdef.json",  # well-formed, absent
                 "logs_20240101_000000_0123456789ABCDEF.json", "wgm.db", "master.key",
                 "..%2fwgm.db", "..%2F..%2Fstate%2Fwgm.db", "%2e%2e%2fmaster.key", "%2e%2e",
                 "logs_20240101_000000_0123456789abcdef.json%2f..%2f..%2fmaster.key",
                 "..%5c..%5cwgm.db", "%252e%252e%252fmaster.key", "logs_20240101_000000_0123456789abcdef.json%00"):
        r = requests.get(base + name, headers=auth, timeout=10)
        assert r.status_code == 404, (name, r.status_code, r.text[:200])
        assert_error(r, 404, "RESOURCE_NOT_FOUND")
    # a symlink with a valid name is not followed
    os.makedirs(os.path.join(d.state, "exports"), exist_ok=True)
    link = "logs_20240101_000000_00000000deadbeef.txt"
    os.symlink(os.path.join(d.state, "master.key"), os.path.join(d.state, "exports", link))
    assert_error(requests.get(base + link, headers=auth, timeout=10), 404, "RESOURCE_NOT_FOUND")


def test_download_needs_a_token(env):
    d, tok, uid = env
    r = export(d, tok, format="json", start_time=iso(time.time() - 60), end_time=iso(time.time() + 60))
    url = d.url + r.json()["data"]["download_url"]
    assert_error(requests.get(url, timeout=10), 401, "TOKEN_INVALID")
    assert_error(requests.get(url, headers={"Authorization": "Bearer nonsense"}, timeout=10), 401, "TOKEN_INVALID")
    assert requests.get(url, headers={"Authorization": "Bearer " + tok}, timeout=10).status_code == 200


def test_expired_export_is_gone(env):
    d, tok, uid = env
    r = export(d, tok, format="csv", start_time=iso(time.time() - 60), end_time=iso(time.time() + 60))
    url = d.url + r.json()["data"]["download_url"]
    path = os.path.join(d.state, "exports", url.rsplit("/", 1)[1])
    old = time.time() - 3601
    os.utime(path, (old, old))
    assert_error(requests.get(url, headers={"Authorization": "Bearer " + tok}, timeout=10), 404,
                 "RESOURCE_NOT_FOUND")
    assert not os.path.exists(path)


# --- store behaviour and configuration -----------------------------------------

def test_queued_records_survive_a_clean_stop(env):
    d, tok, uid = env
    m = marker()
    assert d.call("POST", "/last-words-" + m, token=tok).status_code == 404
    rc = d.stop()  # SIGTERM: the writer flushes before the pool closes
    assert rc == 0, d.log_text()
    first_run = d.log_text()
    d.start()
    tok = d.login()
    assert get_logs(d, tok, module="audit", search=m)["pagination"]["total"] == 1, first_run


def test_store_level_filters_lines_not_audit(daemons):
    d = daemons(config="[logs]\nstore_level = warn\n")
    tok = d.login()
    m = marker()
    d.call("POST", "/lvl-" + m, token=tok)
    d.call("PUT", "/system/config", token=tok, json={"api_rate_limit": 1000000})
    wait_logs(d, tok, module="audit", search=m)
    wait_logs(d, tok, module="audit", search="PUT /api/v1/system/config")  # an INFO audit record is kept
    # INFO lines of the logger (access log, "listening on") are not
    assert get_logs(d, tok, module="access")["pagination"]["total"] == 0
    assert get_logs(d, tok, module="http", level="INFO")["pagination"]["total"] == 0


@pytest.mark.parametrize("text,key", [
    ("[logs]\nstore_level = loud\n", "store_level"),
    ("[logs]\nretention_days = 0\n", "retention_days"),
    ("[logs]\nretention_days = 3651\n", "retention_days"),
    ("[logs]\nkeep = forever\n", "keep"),
])
def test_logs_config_is_validated(daemons, text, key):
    d = daemons(start=False, config=text)
    rc, out = d.check()
    assert rc != 0 and key in out and "wgm.conf:" in out, out


# --- access records, stack_trace, max_log_size ----------------------------------

def test_access_records_have_their_fields(env):
    d, tok, uid = env
    m = marker()
    rid = "req-access-" + m
    r = d.call("GET", "/version", token=tok, headers={"X-Request-ID": rid}, params={"q": m})
    assert r.status_code == 200
    deadline = time.time() + 15
    while True:
        found = [x for x in all_logs(d, tok, module="access") if x["request_id"] == rid]
        if found or time.time() > deadline:
            break
        time.sleep(0.1)
    assert len(found) == 1, found
    rec = found[0]
    assert rec["ip_address"] == "127.0.0.1" and rec["user_id"] == uid and rec["level"] == "INFO"
    assert rec["stack_trace"] is None and "stack_trace" in rec
    det = rec["details"]
    assert det["method"] == "GET" and det["path"] == "/api/v1/version" and det["status"] == 200
    assert isinstance(det["duration_ms"], (int, float)) and det["duration_ms"] >= 0
    assert det["bytes"] == len(r.content)
    # the fields are no longer folded into the message
    assert rid not in rec["message"] and "127.0.0.1" not in rec["message"]
    assert rec["message"].startswith("GET /api/v1/version 200 ")
    # an anonymous error carries its code, and no user
    r = requests.get(d.api("/users"), headers={"X-Request-ID": rid + "-anon"}, timeout=10)
    assert r.status_code == 401
    deadline = time.time() + 15
    while True:
        found = [x for x in all_logs(d, tok, module="access") if x["request_id"] == rid + "-anon"]
        if found or time.time() > deadline:
            break
        time.sleep(0.1)
    assert len(found) == 1 and found[0]["user_id"] is None, found
    assert found[0]["details"]["status"] == 401 and found[0]["details"]["error_code"] == "TOKEN_INVALID"


def test_stack_trace_is_in_list_and_exports(env):
    d, tok, uid = env
    m = marker()
    d.call("POST", "/st-" + m, token=tok)
    wait_logs(d, tok, module="audit", search=m)
    assert all(x["stack_trace"] is None for x in get_logs(d, tok)["logs"])
    window = {"start_time": iso(time.time() - 3600), "end_time": iso(time.time() + 60), "module": "audit"}
    r = export(d, tok, format="json", **window)
    body = r.json()
    assert body["message"] == "Log export ready"
    got = requests.get(d.url + body["data"]["download_url"], headers={"Authorization": "Bearer " + tok},
                       timeout=10).json()
    assert got and all("stack_trace" in x and x["stack_trace"] is None for x in got)
    r = export(d, tok, format="csv", **window)
    text = requests.get(d.url + r.json()["data"]["download_url"], headers={"Authorization": "Bearer " + tok},
                        timeout=10).text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows and all(x["stack_trace"] == "" for x in rows)
    zh = export(d, tok, format="txt", headers={"Accept-Language": "zh-CN,zh;q=0.9"}, **window)
    assert zh.json()["message"] == "日志导出成功"


def _insert_big_rows(d, n, size, tag):
    """Rows written straight into the store's table (both dialects); the
    bulk is in details (MEDIUMTEXT on MariaDB, where message is TEXT)."""
    from conftest import BACKEND, mysql_cli
    ts = int(time.time() * 1000)
    if BACKEND == "mysql":
        import urllib.parse
        db = urllib.parse.urlparse(d.env["WGM_DATABASE_URL"]).path.lstrip("/")
        for i in range(n):
            mysql_cli("INSERT INTO logs (ts, level, module, message, details) VALUES (%d, 'INFO', 'bulk', "
                      "'%s-%d', CONCAT('{', CHAR(34), 'pad', CHAR(34), ':', CHAR(34), REPEAT('x', %d), CHAR(34), '}'))"
                      % (ts + i, tag, i, size), database=db)
    else:
        import sqlite3
        c = sqlite3.connect(os.path.join(d.state, "wgm.db"), timeout=30)
        for i in range(n):
            c.execute("INSERT INTO logs (ts, level, module, message, details) VALUES (?, 'INFO', 'bulk', ?, ?)",
                      (ts + i, "%s-%d" % (tag, i), json.dumps({"pad": "x" * size})))
        c.commit()
        c.close()


def test_max_log_size_drops_the_oldest(env):
    d, tok, uid = env
    m = marker()
    # 4 x 400 KiB: over a 1 MiB bound; keeping 90 % of it leaves room for 2
    _insert_big_rows(d, 4, 400 * 1024, m)
    assert get_logs(d, tok, module="bulk")["pagination"]["total"] == 4
    r = d.call("PUT", "/system/config", token=tok, json={"max_log_size": 1})
    assert r.status_code == 200 and r.json()["data"]["max_log_size"] == 1
    deadline = time.time() + 30
    while get_logs(d, tok, module="bulk")["pagination"]["total"] > 2 and time.time() < deadline:
        time.sleep(0.2)
    left = sorted(x["message"].split()[0] for x in all_logs(d, tok, module="bulk"))
    assert left == ["%s-2" % m, "%s-3" % m], left  # the oldest went first
    line = d.wait_log(r"max_log_size: deleted the \d+ oldest log record\(s\) to stay under 1 MiB")
    # newer, small records are kept
    assert get_logs(d, tok, module="audit")["pagination"]["total"] > 0, line


@pytest.mark.parametrize("value", [0, 100001, "big", None])
def test_max_log_size_bad_input(env, value):
    d, tok, uid = env
    err = assert_error(d.call("PUT", "/system/config", token=tok, json={"max_log_size": value}), 422,
                       "VALIDATION_ERROR")
    assert "max_log_size" in err["details"]
