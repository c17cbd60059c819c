"""End-to-end harness: network namespaces joined by veth, a wgmd running
inside the server namespace, and helpers to run commands in either side.
Needs root, iproute2, wireguard-go and wg (scripts/deps installs them)."""
import ctypes
import os
import shutil
import signal
import subprocess
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PREFIX = os.environ.get("WGM_PREFIX", os.path.join(ROOT, "_inst"))
WGMD = os.path.join(PREFIX, "sbin", "wgmd")
ADMIN_PASSWORD = "Adm1n-Test-Passw0rd!"

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def sh(*cmd, check=True, ns=None, timeout=30):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("%s failed: %s%s" % (" ".join(full), r.stdout, r.stderr))
    return r


class Netns:
    """Enter a namespace for this thread's sockets, and come back."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open("/var/run/netns/" + self.name, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        libc.setns(self.home, CLONE_NEWNET)
        os.close(self.home)


def require_tools():
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root")
    for tool in ("ip", "wg", "wireguard-go", "ping"):
        if not shutil.which(tool):
            pytest.skip(tool + " is not installed")
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("/dev/net/tun is missing")


@pytest.fixture
def topology():
    """srv <-veth-> cli with 198.18.0.1/2 and fd18::1/2 (test ranges, only
    inside these namespaces)."""
    require_tools()
    tag = "%x" % (os.getpid() & 0xFFFF)
    srv, cli = "wgm-srv-" + tag, "wgm-cli-" + tag
    sh("ip", "netns", "add", srv)
    sh("ip", "netns", "add", cli)
    try:
        sh("ip", "link", "add", "ve-s" + tag, "netns", srv, "type", "veth", "peer", "name", "ve-c" + tag, "netns", cli)
        for ns, dev, v4, v6 in ((srv, "ve-s" + tag, "198.18.0.1/24", "fd18::1/64"),
                                (cli, "ve-c" + tag, "198.18.0.2/24", "fd18::2/64")):
            sh("ip", "link", "set", "lo", "up", ns=ns)
            sh("ip", "addr", "add", v4, "dev", dev, ns=ns)
            sh("ip", "-6", "addr", "add", v6, "dev", dev, "nodad", ns=ns)
            sh("ip", "link", "set", dev, "up", ns=ns)
        yield {"srv": srv, "cli": cli, "tag": tag}
    finally:
        for ns in (srv, cli):
            # wireguard-go exits when its TUN goes away with the namespace
            for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass
            time.sleep(0.3)
            sh("ip", "netns", "del", ns, check=False)


class NsWgmd:
    """wgmd inside a namespace; HTTP goes through setns."""

    def __init__(self, ns, tmp):
        self.ns = ns
        self.dir = tmp
        self.state = os.path.join(tmp, "state")
        conf = os.path.join(tmp, "wgm.conf")
        with open(conf, "w") as f:
            f.write("[http]\nlisten = 127.0.0.1:0\n[log]\nlevel = debug\n"
                    "[wireguard]\nreconcile_interval_ms = 2000\nstatus_interval_ms = 1000\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WGM_") or k.startswith("WGM_TEST_")}
        env.update({"WGM_STATE_DIR": self.state, "WGM_ADMIN_PASSWORD": ADMIN_PASSWORD})
        self.log = open(os.path.join(tmp, "wgmd.log"), "w+")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, WGMD, "-c", conf], env=env, stderr=self.log,
                                     stdout=subprocess.DEVNULL)
        deadline = time.time() + 20
        self.port = None
        while time.time() < deadline and not self.port:
            self.log.seek(0)
            for line in self.log.read().splitlines():
                if "listening on 127.0.0.1:" in line:
                    self.port = int(line.rsplit(":", 1)[1].split()[0])
            time.sleep(0.1)
        assert self.port, self.text()
        self.token = self.call("POST", "/auth/login",
                               json={"username": "admin", "password": ADMIN_PASSWORD}).json()["data"]["access_token"]

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def call(self, method, path, **kw):
        headers = kw.pop("headers", {})
        if getattr(self, "token", None):
            headers["Authorization"] = "Bearer " + self.token
        with Netns(self.ns):
            return requests.request(method, "http://127.0.0.1:%d/api/v1%s" % (self.port, path), headers=headers,
                                    timeout=30, **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def wgmd_in(tmp_path):
    started = []

    def make(ns):
        d = NsWgmd(ns, str(tmp_path))
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()
