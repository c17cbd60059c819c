"""Integration harness: starts real wgmd processes on loopback.

Backend is chosen by WGM_TEST_BACKEND: "sqlite" (default) or "mysql", the
latter using WGM_TEST_MYSQL_URL and WGM_TEST_REDIS_URL from
scripts/services.  Binaries come from the private install prefix made by
scripts/build (WGM_PREFIX, default ./_inst), fixtures from the build tree.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PREFIX = os.environ.get("WGM_PREFIX", os.path.join(ROOT, "_inst"))
BUILD = os.environ.get("WGM_BUILD_DIR", os.path.join(ROOT, "_build"))
WGMD = os.path.join(PREFIX, "sbin", "wgmd")
FIXTURES = os.path.join(BUILD, "tests", "fixtures", ".libs")
BACKEND = os.environ.get("WGM_TEST_BACKEND", "sqlite")
# Meets the default password policy; given to wgmd as WGM_ADMIN_PASSWORD.
ADMIN_PASSWORD = "Adm1n-Test-Passw0rd!"


def mysql_cli(sql, database=None):
    """Run SQL as the test user through the mariadb client."""
    u = urllib.parse.urlparse(os.environ["WGM_TEST_MYSQL_URL"])
    cmd = ["mariadb", "--no-defaults", "-h", u.hostname, "-P", str(u.port), "-u", u.username,
           "-p" + urllib.parse.unquote(u.password), "-N", "-B"]
    if database:
        cmd.append(database)
    return subprocess.run(cmd + ["-e", sql], capture_output=True, text=True, check=True, timeout=30).stdout


def fresh_mysql_url():
    """A new empty database (wgm_test_<hex>) so daemons of different tests
    never see each other's users, settings or migrations."""
    u = urllib.parse.urlparse(os.environ["WGM_TEST_MYSQL_URL"])
    name = "wgm_test_" + os.urandom(6).hex()
    mysql_cli("CREATE DATABASE %s CHARACTER SET utf8mb4" % name)
    return u._replace(path="/" + name).geturl()


def backend_env():
    """Database and cache settings for the selected backend."""
    if BACKEND == "mysql":
        return {
            "WGM_DATABASE_URL": fresh_mysql_url(),
            "WGM_CACHE_URL": os.environ["WGM_TEST_REDIS_URL"],
        }
    return {}


def flush_redis():
    if BACKEND == "mysql":
        subprocess.run(["redis-cli", "-u", os.environ["WGM_TEST_REDIS_URL"], "FLUSHDB"], capture_output=True,
                       check=True, timeout=10)


class Wgmd:
    """One wgmd process with its own config dir, state dir and plugin dir."""

    def __init__(self, tmp, config="", dropins=None, plugins=(), env=None, listen="127.0.0.1:0"):
        self.dir = tempfile.mkdtemp(dir=tmp)
        self.conf = os.path.join(self.dir, "wgm.conf")
        self.state = os.path.join(self.dir, "state")
        self.plugin_dir = os.path.join(self.dir, "plugins")
        os.makedirs(os.path.join(self.dir, "conf.d"))
        os.makedirs(self.plugin_dir)
        for p in plugins:
            src = p if os.path.isabs(p) else os.path.join(FIXTURES, p + ".so")
            shutil.copy(src, self.plugin_dir)
        with open(self.conf, "w") as f:
            f.write("[http]\nlisten = %s\n" % listen + config)
        for name, text in (dropins or {}).items():
            with open(os.path.join(self.dir, "conf.d", name), "w") as f:
                f.write(text)
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("WGM_") and not k.startswith("WGM_TEST_"):
                del self.env[k]
        self.env.update(backend_env())
        self.admin_password = ADMIN_PASSWORD
        self.env.update({"WGM_STATE_DIR": self.state, "WGM_PLUGIN_DIR": self.plugin_dir,
                         "WGM_ADMIN_PASSWORD": ADMIN_PASSWORD})
        self.env.update(env or {})
        self.proc = None
        self.lines = []
        self.port = None
        self._reader = None

    def check(self):
        """wgmd -t: (exit code, output)."""
        r = subprocess.run([WGMD, "-c", self.conf, "-t"], env=self.env, capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout + r.stderr

    def start(self, wait=True):
        self.lines = []
        self.proc = subprocess.Popen([WGMD, "-c", self.conf], env=self.env, stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait:
            line = self.wait_log(r"listening on .*:(\d+)", timeout=20)
            self.port = int(re.search(r":(\d+)\b(?!.*:\d)", line.split("listening on")[1]).group(1))
        return self

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def log_text(self):
        return "\n".join(self.lines)

    def wait_log(self, pattern, timeout=10):
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            for line in list(self.lines):
                if rx.search(line):
                    return line
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError("no log line matching %r; log:\n%s" % (pattern, self.log_text()))

    def wait_exit(self, timeout=20):
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def api(self, path):
        return self.url + "/api/v1" + path

    def get(self, path, **kw):
        return requests.get(self.api(path), timeout=10, **kw)

    def request(self, method, path, **kw):
        return requests.request(method, self.api(path), timeout=10, **kw)

    def login(self, username="admin", password=None, full=False):
        """Log in; the access token, or the whole answer with full=True."""
        r = self.request("POST", "/auth/login", json={"username": username,
                                                      "password": password or self.admin_password})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        return data if full else data["access_token"]

    def call(self, method, path, token=None, **kw):
        """A request with "Authorization: Bearer <token>" (JWT or API key)."""
        headers = dict(kw.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return self.request(method, path, headers=headers, **kw)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None


class TcpProxy:
    """A loopback TCP forwarder the tests can cut, to take a server away
    from wgmd without touching the real server other tests share."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        self.conns = []
        self.up = True
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.up:
                    c.close()
                    continue
            try:
                s = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, s]
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Drop every connection and refuse new ones."""
        with self.lock:
            self.up = False
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass
            self.conns = []

    def restore(self):
        with self.lock:
            self.up = True

    def close(self):
        self.cut()
        self.listener.close()


@pytest.fixture
def tmp(tmp_path):
    return str(tmp_path)


@pytest.fixture
def daemons(tmp):
    """Factory: daemons(config=..., plugins=[...]) -> started Wgmd, stopped at teardown."""
    started = []
    flush_redis()  # rate-limit buckets and revocations from earlier tests

    def make(start=True, **kw):
        d = Wgmd(tmp, **kw)
        started.append(d)
        return d.start() if start else d

    yield make
    for d in started:
        d.stop(signal.SIGKILL if d.proc and d.proc.poll() is None else signal.SIGTERM)


def assert_error(resp, status, code):
    """The spec's error envelope, with a request id that matches the header."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False
    err = body["error"]
    assert err["code"] == code, body
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], dict)
    assert err["request_id"] == resp.headers["X-Request-ID"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", err["timestamp"])
    return err


@pytest.fixture(scope="session")
def example_so(tmp_path_factory):
    """sdk/example built out of tree against the installed SDK, as a third party would."""
    build = str(tmp_path_factory.mktemp("example"))
    for f in ("example.c", "Makefile"):
        shutil.copy(os.path.join(ROOT, "sdk", "example", f), build)
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(PREFIX, "lib", "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "wgm-plugin"], env=env, capture_output=True, text=True,
                           check=True).stdout
    assert os.path.join(PREFIX, "include") in flags  # the installed SDK, not the source tree
    subprocess.run(["make", "-C", build], env=env, check=True, capture_output=True, timeout=120)
    so = os.path.join(build, "example.so")
    syms = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True, check=True).stdout
    exported = [l.split()[-1] for l in syms.splitlines() if " T " in l or " D " in l or " R " in l or " B " in l]
    assert exported == ["wgm_plugin_v1"], exported
    return so


