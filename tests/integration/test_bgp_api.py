"""/bgp/sessions, /bgp/routes and /bgp/announcements on a real wgmd with
bgp.so driving a private BIRD (manage_daemon = yes, in the test's state
dir): the spec shapes, status from BIRD, validation naming the field on
every endpoint, duplicates, the password sealed at rest and redacted, and
503 while BIRD is away (wgmd keeps running and recovers)."""
import errno
import glob
import os
import re
import signal
import shutil
import subprocess
import time

import pytest

from conftest import BACKEND, PREFIX, Wgmd, assert_error

PLUGIN = os.path.join(PREFIX, "lib", "wgm", "plugins", "bgp.so")
BIRD = "/usr/sbin/bird"

pytestmark = [pytest.mark.skipif(not os.path.exists(PLUGIN), reason="bgp.so is not installed in " + PREFIX),
              pytest.mark.skipif(not os.path.exists(BIRD), reason="bird is not installed")]


@pytest.fixture
def env(daemons):
    sock = "/tmp/wgm-bgp-%d-%s.ctl" % (os.getpid(), os.urandom(3).hex())
    d = daemons(plugins=[PLUGIN], dropins={"70-bgp.conf": "[bgp]\nenabled = yes\nmanage_daemon = yes\n"
                                                         "router_id = 10.1.1.1\nlocal_as = 65000\n"
                                                         "bird_socket = %s\n" % sock})
    d.bird_socket = sock
    yield d, d.login()
    if os.path.exists(sock):
        os.unlink(sock)


def post(d, tok, **kw):
    body = {"name": "s1", "neighbor": "fd00:99::2", "remote_as": 65001, "password": "secret-pw",
            "hold_time": 90, "keepalive": 30}
    body.update(kw)
    body = {k: v for k, v in body.items() if v is not None}
    return d.call("POST", "/bgp/sessions", token=tok, json=body)


def mk(d, tok, **kw):
    r = post(d, tok, **kw)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def bird_conf(d):
    with open(os.path.join(d.state, "bgp", "wgm.conf")) as f:
        return f.read()


def test_session_shape_and_bird_config(env):
    d, tok = env
    s = mk(d, tok, description="to the lab")
    assert s["name"] == "s1" and s["neighbor"] == "fd00:99::2" and s["remote_as"] == 65001
    assert s["local_as"] == 65000  # the [bgp] local_as default
    assert s["status"] in ("idle", "active", "connect")
    assert s["uptime"] == 0 and s["routes_received"] == 0 and s["routes_advertised"] == 0
    assert s["config"] == {"password": "***REDACTED***", "hold_time": 90, "keepalive": 30, "connect_retry": 120,
                           "multihop": False, "ttl_security": False}
    assert set(s["statistics"]) == {"messages_received", "messages_sent", "updates_received", "updates_sent",
                                    "notifications_received", "notifications_sent"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["created_at"])
    assert "protocol bgp wgm_s1" in bird_conf(d)
    assert d.call("GET", "/bgp/sessions/%d" % s["id"], token=tok).json()["data"]["name"] == "s1"
    lst = d.call("GET", "/bgp/sessions", token=tok).json()["data"]
    assert lst["pagination"]["total"] == 1 and lst["sessions"][0]["id"] == s["id"]
    assert "secret-pw" not in d.call("GET", "/bgp/sessions", token=tok).text


def test_password_sealed_at_rest(env):
    d, tok = env
    mk(d, tok, password="Pl41n-Text-Pw")
    if BACKEND == "sqlite":
        for path in glob.glob(os.path.join(d.state, "*.db*")) + glob.glob(os.path.join(d.state, "**", "*.db*")):
            with open(path, "rb") as f:
                assert b"Pl41n-Text-Pw" not in f.read(), path


def test_list_filters_and_pages(env):
    d, tok = env
    mk(d, tok, name="a", neighbor="192.0.2.10")
    mk(d, tok, name="b", neighbor="192.0.2.11")
    mk(d, tok, name="c", neighbor="2001:db8::11")
    r = d.call("GET", "/bgp/sessions?neighbor=192.0.2.11", token=tok).json()["data"]
    assert [s["name"] for s in r["sessions"]] == ["b"]
    r = d.call("GET", "/bgp/sessions?page=2&size=2", token=tok).json()["data"]
    assert [s["name"] for s in r["sessions"]] == ["c"] and r["pagination"]["total"] == 3
    r = d.call("GET", "/bgp/sessions?status=established", token=tok).json()["data"]
    assert r["sessions"] == [] and r["pagination"]["total"] == 0
    for q in ("status=up", "page=0", "size=0", "size=abc", "size=101"):
        assert_error(d.call("GET", "/bgp/sessions?" + q, token=tok), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("field,value", [
    ("name", ""), ("name", "Bad-Name"), ("name", "x" * 33), ("name", 5),
    ("neighbor", "not-an-ip"), ("neighbor", "10.0.0.0/24"), ("neighbor", "fe80::1"), ("neighbor", " 192.0.2.1"),
    ("neighbor", "192.0.2.1 "), ("neighbor", "192.0.2.1\n"),
    ("neighbor", "::"), ("neighbor", "0.0.0.0"), ("neighbor", "ff02::1"), ("neighbor", "224.0.0.5"),
    ("remote_as", 0), ("remote_as", 4294967296), ("remote_as", "65001"),
    ("local_as", 0), ("local_as", -1),
    ("hold_time", 1), ("hold_time", 2), ("hold_time", 65536),
    ("keepalive", 90), ("keepalive", -1),
    ("multihop", "yes"), ("ttl_security", 1), ("enabled", "true"),
    ("password", 'has"quote'), ("password", "x" * 81),
    ("description", "line\nbreak"), ("bogus", 1),
])
def test_create_validation(env, field, value):
    d, tok = env
    body = {"name": "s1", "neighbor": "fd00:99::2", "remote_as": 65001}
    if value is None:
        del body[field]
    else:
        body[field] = value
    r = d.call("POST", "/bgp/sessions", token=tok, json=body)
    assert_error(r, 422, "VALIDATION_ERROR")
    assert field in r.json()["error"]["details"]


@pytest.mark.parametrize("missing", [["name"], ["neighbor"], ["remote_as"], ["name", "neighbor", "remote_as"]])
def test_create_missing_field(env, missing):
    """Absent required fields: 400 MISSING_PARAMETER naming each; nothing is created."""
    d, tok = env
    body = {k: v for k, v in {"name": "s1", "neighbor": "fd00:99::2", "remote_as": 65001}.items() if k not in missing}
    r = d.call("POST", "/bgp/sessions", token=tok, json=body)
    assert_error(r, 400, "MISSING_PARAMETER")
    assert set(r.json()["error"]["details"]) == set(missing), r.text
    assert d.call("GET", "/bgp/sessions", token=tok).json()["data"]["pagination"]["total"] == 0
    r = d.call("POST", "/bgp/announcements", token=tok, json={"communities": ["65000:1"]})
    assert_error(r, 400, "MISSING_PARAMETER")
    assert list(r.json()["error"]["details"]) == ["prefix"]


def test_asn_bounds_accepted(env):
    d, tok = env
    mk(d, tok, name="lo", neighbor="192.0.2.1", remote_as=1, local_as=4294967295, hold_time=0, keepalive=0)
    mk(d, tok, name="hi", neighbor="192.0.2.2", remote_as=4294967295, hold_time=3, keepalive=1, multihop=True)


def test_duplicates_conflict(env):
    d, tok = env
    mk(d, tok)
    r = post(d, tok, name="other")
    assert_error(r, 409, "RESOURCE_ALREADY_EXISTS")
    assert "neighbor" in r.json()["error"]["details"]
    assert_error(post(d, tok, neighbor="192.0.2.77"), 409, "RESOURCE_ALREADY_EXISTS")


def test_update_delete_start_stop(env):
    d, tok = env
    s = mk(d, tok)
    sid = s["id"]
    r = d.call("PUT", "/bgp/sessions/%d" % sid, token=tok, json={"remote_as": 65123, "hold_time": 30, "keepalive": 10})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["remote_as"] == 65123 and r.json()["data"]["config"]["hold_time"] == 30
    assert "65123" in bird_conf(d)
    assert_error(d.call("PUT", "/bgp/sessions/%d" % sid, token=tok, json={"keepalive": 40}), 422, "VALIDATION_ERROR")
    assert_error(d.call("PUT", "/bgp/sessions/%d" % sid, token=tok, json={"neighbor": "x"}), 422, "VALIDATION_ERROR")
    assert_error(d.call("PUT", "/bgp/sessions/%d" % sid, token=tok, json=[1]), 422, "VALIDATION_ERROR")
    assert_error(d.call("PUT", "/bgp/sessions/999", token=tok, json={"remote_as": 1}), 404, "RESOURCE_NOT_FOUND")
    r = d.call("POST", "/bgp/sessions/%d/stop" % sid, token=tok)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["enabled"] is False and "disabled;" in bird_conf(d)
    r = d.call("POST", "/bgp/sessions/%d/start" % sid, token=tok)
    assert r.status_code == 200 and r.json()["data"]["enabled"] is True
    for p in ("/bgp/sessions/999/start", "/bgp/sessions/999/stop", "/bgp/sessions/abc/start"):
        assert_error(d.call("POST", p, token=tok), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("GET", "/bgp/sessions/0", token=tok), 404, "RESOURCE_NOT_FOUND")
    assert d.call("DELETE", "/bgp/sessions/%d" % sid, token=tok).status_code == 200
    assert_error(d.call("DELETE", "/bgp/sessions/%d" % sid, token=tok), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("GET", "/bgp/sessions/%d" % sid, token=tok), 404, "RESOURCE_NOT_FOUND")
    assert "wgm_s1" not in bird_conf(d)


def test_routes_endpoint(env):
    d, tok = env
    mk(d, tok)
    r = d.call("GET", "/bgp/routes?prefix=2001:db8::/32&session_id=1&page=1&size=5", token=tok)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["routes"] == [] and r.json()["data"]["pagination"]["total"] == 0
    for q in ("prefix=nope", "prefix=10.0.0.0/33", "session_id=0", "session_id=x", "page=-1", "size=100000",
              "prefix=10.0.0.0/%208", "prefix=10.0.0.0/8%20", "prefix=10.0.0.0/-0", "session_id=%201", "session_id=1x"):
        assert_error(d.call("GET", "/bgp/routes?" + q, token=tok), 422, "VALIDATION_ERROR")


def test_announcements(env):
    d, tok = env
    s = mk(d, tok)
    r = d.call("POST", "/bgp/announcements", token=tok, json={"prefix": "2001:db8:100::/48",
                                                              "communities": ["65000:1"], "description": "ours"})
    assert r.status_code == 201, r.text
    a = r.json()["data"]
    assert a["prefix"] == "2001:db8:100::/48" and a["session_id"] is None and a["communities"] == ["65000:1"]
    assert "2001:db8:100::/48" in bird_conf(d)
    r = d.call("POST", "/bgp/announcements", token=tok, json={"prefix": "192.0.2.0/24", "session_id": s["id"]})
    assert r.status_code == 201, r.text
    assert_error(d.call("POST", "/bgp/announcements", token=tok, json={"prefix": "192.0.2.0/24", "session_id": s["id"]}),
                 409, "RESOURCE_ALREADY_EXISTS")
    lst = d.call("GET", "/bgp/announcements", token=tok).json()["data"]
    assert lst["pagination"]["total"] == 2
    lst = d.call("GET", "/bgp/announcements?session_id=%d" % s["id"], token=tok).json()["data"]
    assert [x["prefix"] for x in lst["announcements"]] == ["192.0.2.0/24"]
    assert_error(d.call("POST", "/bgp/announcements", token=tok, json={}), 400, "MISSING_PARAMETER")
    for body in ({"prefix": "2001:db8::1/48"}, {"prefix": "nope"}, {"prefix": "10.0.0.0/8", "session_id": 999},
                 {"prefix": "10.0.0.0/8", "communities": ["65536:1"]}, {"prefix": "10.0.0.0/8", "communities": "x"},
                 {"prefix": "10.0.0.0/8", "extra": 1}, {"prefix": "10.0.0.0/ 8"}, {"prefix": "10.0.0.0/8 "},
                 {"prefix": " 10.0.0.0/8"}, {"prefix": "10.0.0.0/+8"}, {"prefix": "10.0.0.0/-0"},
                 {"prefix": "10.0.0.0/08"}, {"prefix": "10.0.0.0/8", "communities": ["65000: 1"]},
                 {"prefix": "10.0.0.0/8", "communities": ["65000:1 "]}, {"prefix": "10.0.0.0/8", "communities": ["+1:1"]}):
        r = d.call("POST", "/bgp/announcements", token=tok, json=body)
        assert_error(r, 422, "VALIDATION_ERROR")
    assert_error(d.call("GET", "/bgp/announcements?session_id=x", token=tok), 422, "VALIDATION_ERROR")
    assert d.call("DELETE", "/bgp/announcements/%d" % a["id"], token=tok).status_code == 200
    assert "2001:db8:100::/48" not in bird_conf(d)
    assert_error(d.call("DELETE", "/bgp/announcements/%d" % a["id"], token=tok), 404, "RESOURCE_NOT_FOUND")
    assert_error(d.call("DELETE", "/bgp/announcements/x", token=tok), 404, "RESOURCE_NOT_FOUND")


def test_bird_away_is_503_and_recovers(env):
    d, tok = env
    with open(os.path.join(d.state, "bgp", "bird.pid")) as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 1
    got = None
    while time.time() < deadline:
        got = d.call("GET", "/bgp/sessions", token=tok)
        if got.status_code == 503:
            break
    if got.status_code == 503:
        assert_error(got, 503, "SERVICE_UNAVAILABLE")
    deadline = time.time() + 15
    while time.time() < deadline and d.call("GET", "/bgp/sessions", token=tok).status_code != 200:
        time.sleep(0.2)
    assert d.call("GET", "/bgp/sessions", token=tok).status_code == 200
    assert d.proc.poll() is None
    mk(d, tok)


def test_plugin_without_bird_answers_503(daemons):
    d = daemons(plugins=[PLUGIN], dropins={"70-bgp.conf": "[bgp]\nenabled = yes\nmanage_daemon = no\n"
                                                         "bird_socket = /tmp/wgm-no-such-bird.ctl\n"
                                                         "include_file = /tmp/wgm-no-such-dir/wgm.conf\n"})
    tok = d.login()
    assert_error(d.call("GET", "/bgp/sessions", token=tok), 503, "SERVICE_UNAVAILABLE")
    assert_error(d.call("GET", "/bgp/routes", token=tok), 503, "SERVICE_UNAVAILABLE")
    assert_error(post(d, tok, local_as=65000), 503, "SERVICE_UNAVAILABLE")
    assert d.call("GET", "/bgp/announcements", token=tok).status_code == 200
    assert d.proc.poll() is None


def test_private_bird_is_stable_and_stopped_with_wgmd(env):
    d, tok = env
    pidfile = os.path.join(d.state, "bgp", "bird.pid")
    with open(pidfile) as f:
        pid = int(f.read().strip())
    time.sleep(3)
    with open(pidfile) as f:
        assert int(f.read().strip()) == pid
    assert "restarting" not in d.log_text()
    assert d.stop() == 0
    deadline = time.time() + 5
    while time.time() < deadline and os.path.exists("/proc/%d" % pid):
        time.sleep(0.1)
    assert not os.path.exists("/proc/%d" % pid), "bird outlived wgmd"


def test_failing_candidate_is_not_applied(daemons, tmp_path):
    """`bird -p` refusing the candidate: the API answers with BIRD's message,
    the database and the applied include file stay as they were."""
    wrapper = os.path.join(str(tmp_path), "bird-wrap")
    flag = os.path.join(str(tmp_path), "refuse")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = -p ] && [ -e %s ] && "
                "{ echo 'bird: injected.conf:1:1 injected refusal' >&2; exit 1; }; done\nexec %s \"$@\"\n"
                % (flag, BIRD))
    os.chmod(wrapper, 0o755)
    sock = "/tmp/wgm-bgp-%d-%s.ctl" % (os.getpid(), os.urandom(3).hex())
    d = daemons(plugins=[PLUGIN], dropins={"70-bgp.conf": "[bgp]\nenabled = yes\nmanage_daemon = yes\n"
                                                         "local_as = 65000\nbird_binary = %s\n"
                                                         "bird_socket = %s\n" % (wrapper, sock)})
    tok = d.login()
    try:
        mk(d, tok, name="kept", neighbor="192.0.2.5")
        before = bird_conf(d)
        open(flag, "w").close()
        r = post(d, tok, name="refused", neighbor="192.0.2.6")
        assert_error(r, 422, "VALIDATION_ERROR")
        assert "injected refusal" in r.json()["error"]["details"]["bird"]
        assert bird_conf(d) == before
        names = [s["name"] for s in d.call("GET", "/bgp/sessions", token=tok).json()["data"]["sessions"]]
        assert names == ["kept"]
        r = d.call("POST", "/bgp/announcements", token=tok, json={"prefix": "10.9.0.0/16"})
        assert_error(r, 422, "VALIDATION_ERROR")
        assert d.call("GET", "/bgp/announcements", token=tok).json()["data"]["announcements"] == []
        os.unlink(flag)
        mk(d, tok, name="refused", neighbor="192.0.2.6")
        assert "wgm_refused" in bird_conf(d)
    finally:
        d.stop()
        if os.path.exists(sock):
            os.unlink(sock)


def test_success_messages(env):
    """Creates and actions carry the spec's message; Chinese with Accept-Language zh."""
    d, tok = env
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    r = post(d, tok)
    assert r.status_code == 201 and r.json()["message"] == "BGP session created", r.text
    sid = r.json()["data"]["id"]
    r = d.call("POST", "/bgp/sessions/%d/stop" % sid, token=tok, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "BGP会话停止成功", r.text
    r = d.call("POST", "/bgp/sessions/%d/start" % sid, token=tok, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "BGP会话启动成功", r.text
    r = d.call("POST", "/bgp/sessions/%d/start" % sid, token=tok)
    assert r.json()["message"] == "BGP session started", r.text
    r = d.call("PUT", "/bgp/sessions/%d" % sid, token=tok, json={"remote_as": 65002})
    assert r.status_code == 200 and r.json()["message"] == "BGP session updated", r.text
    r = d.call("POST", "/bgp/announcements", token=tok, json={"prefix": "2001:db8:7::/48"}, headers=zh)
    assert r.status_code == 201 and r.json()["message"] == "BGP宣告创建成功", r.text
    r = d.call("DELETE", "/bgp/announcements/%d" % r.json()["data"]["id"], token=tok)
    assert r.status_code == 200 and r.json()["message"] == "BGP announcement deleted", r.text
    assert "message" not in d.call("GET", "/bgp/sessions/%d" % sid, token=tok).json()
    r = d.call("DELETE", "/bgp/sessions/%d" % sid, token=tok, headers=zh)
    assert r.status_code == 200 and r.json()["message"] == "BGP会话删除成功", r.text


def bird_pid(d):
    with open(os.path.join(d.state, "bgp", "bird.pid")) as f:
        return int(f.read().strip())


def test_bird_gets_a_minimal_environment(env):
    """wgmd's environment holds secrets (WGM_ADMIN_PASSWORD, the database
    and cache URLs): the private BIRD is started with PATH and LANG only."""
    d, tok = env
    assert any(k.startswith("WGM_") for k in d.env), "the test's wgmd has WGM_ variables to leak"
    with open("/proc/%d/environ" % bird_pid(d), "rb") as f:
        environ = [x.decode() for x in f.read().split(b"\0") if x]
    assert not [x for x in environ if x.startswith("WGM_")], environ
    assert sorted(x.split("=", 1)[0] for x in environ) == ["LANG", "PATH"], environ
    assert "LANG=C" in environ


def test_files_are_replaced_never_followed(env, tmp_path):
    """The include file is written to a fresh temporary file and renamed
    over the name: a symlink planted there (or where a fixed temporary name
    used to be) is replaced, never written through; the file is 0640."""
    d, tok = env
    bgpdir = os.path.join(d.state, "bgp")
    inc = os.path.join(bgpdir, "wgm.conf")
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    for name in ("wgm.conf.candidate", "wgm.conf.check", "wgm.conf.tmp"):
        os.symlink(str(victim), os.path.join(bgpdir, name))
    os.unlink(inc)
    os.symlink(str(victim), inc)
    mk(d, tok)
    assert victim.read_text() == "untouched\n"
    st = os.lstat(inc)
    assert not os.path.islink(inc) and (st.st_mode & 0o777) == 0o640
    assert "protocol bgp wgm_s1" in bird_conf(d)
    # nothing of the candidate or its wrapper is left beside it
    left = [n for n in os.listdir(bgpdir) if n.startswith(".wgm.conf.")]
    assert left == [], left
    assert (os.stat(os.path.join(bgpdir, "bird.conf")).st_mode & 0o777) == 0o640


@pytest.mark.parametrize("mode", [0o777, 0o770])
def test_include_dir_writable_by_others_is_refused(daemons, tmp_path, mode):
    """An include file in a directory another user (0777) or a group (0770)
    may write is not written: someone could swap names there between
    wgmd's steps.  The apply fails naming the file's directory, nothing is
    left there, and once the directory is private again the same request
    goes through."""
    incdir = os.path.join(str(tmp_path), "inc")
    os.mkdir(incdir)
    inc = os.path.join(incdir, "wgm.conf")
    with open(inc, "w") as f:
        f.write("# before\n")  # the private BIRD starts with it
    os.chmod(incdir, mode)
    sock = "/tmp/wgm-bgp-%d-%s.ctl" % (os.getpid(), os.urandom(3).hex())
    d = daemons(plugins=[PLUGIN], dropins={"70-bgp.conf": "[bgp]\nenabled = yes\nmanage_daemon = yes\n"
                                                         "router_id = 10.1.1.1\nlocal_as = 65000\n"
                                                         "bird_socket = %s\ninclude_file = %s\n" % (sock, inc)})
    tok = d.login()
    try:
        r = post(d, tok)
        assert_error(r, 500, "INTERNAL_ERROR")
        msg = r.json()["error"]["message"]
        assert incdir + "/" in msg and os.strerror(errno.EPERM) in msg, msg
        assert sorted(os.listdir(incdir)) == ["wgm.conf"]
        with open(inc) as f:
            assert f.read() == "# before\n"
        assert d.call("GET", "/bgp/sessions", token=tok).json()["data"]["sessions"] == []
        os.chmod(incdir, 0o700)
        mk(d, tok)
        with open(inc) as f:
            assert "protocol bgp wgm_s1" in f.read()
        assert sorted(os.listdir(incdir)) == ["wgm.conf"]
    finally:
        d.stop()
        if os.path.exists(sock):
            os.unlink(sock)


def test_system_info_reports_bird(env):
    """GET /system/info services.bgp, read live from BIRD's socket."""
    d, tok = env
    r = d.call("GET", "/system/info", token=tok)
    assert r.status_code == 200, r.text
    svc = r.json()["data"]["services"].get("bgp")
    assert svc is not None, r.json()["data"]["services"]
    out = subprocess.run([BIRD, "--version"], capture_output=True, text=True, timeout=10)
    version = (out.stdout + out.stderr).split()[-1]
    assert svc["status"] == "running" and svc["version"] == version, svc
    assert svc["pid"] == bird_pid(d) and svc["router_id"] == "10.1.1.1" and svc["managed"] is True
    assert svc["message"] == "Daemon is up and running"


def test_system_info_bird_absent(daemons):
    d = daemons(plugins=[PLUGIN], dropins={"70-bgp.conf": "[bgp]\nenabled = yes\nmanage_daemon = no\n"
                                                         "bird_socket = /tmp/wgm-no-such-bird.ctl\n"
                                                         "include_file = /tmp/wgm-no-such-dir/wgm.conf\n"})
    tok = d.login()
    r = d.call("GET", "/system/info", token=tok)
    assert r.status_code == 200, r.text
    svc = r.json()["data"]["services"].get("bgp")
    assert svc == {"status": "stopped", "version": None, "pid": None, "router_id": None, "message": None,
                   "managed": False, "socket": "/tmp/wgm-no-such-bird.ctl"}, svc
