"""Health follows the real database and cache: cut them away (through a
TCP proxy, so the shared servers stay up) and bring them back."""
import os
import time
import urllib.parse

import pytest

from conftest import BACKEND, TcpProxy, assert_error

needs_servers = pytest.mark.skipif(BACKEND != "mysql", reason="needs MariaDB and Redis (WGM_TEST_BACKEND=mysql)")


def proxied(url, proxy):
    u = urllib.parse.urlparse(url)
    netloc = u.netloc.rsplit("@", 1)
    host = "127.0.0.1:%d" % proxy.port
    return u._replace(netloc=(netloc[0] + "@" + host) if len(netloc) == 2 else host).geturl()


def wait_for(fn, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    return fn()


@needs_servers
def test_health_503_when_database_goes_away_and_recovers(daemons):
    u = urllib.parse.urlparse(os.environ["WGM_TEST_MYSQL_URL"])
    proxy = TcpProxy(u.hostname, u.port)
    try:
        d = daemons(env={"WGM_DATABASE_URL": proxied(os.environ["WGM_TEST_MYSQL_URL"], proxy),
                         "WGM_DATABASE_ACQUIRE_TIMEOUT_MS": "500"})
        assert d.get("/health").status_code == 200
        proxy.cut()
        r = wait_for(lambda: (lambda x: x if x.status_code == 503 else None)(d.get("/health")))
        err = assert_error(r, 503, "SERVICE_UNAVAILABLE")
        assert err["details"]["database"]["status"] == "down"
        assert d.get("/version").status_code == 200  # the daemon keeps serving
        proxy.restore()
        r = wait_for(lambda: (lambda x: x if x.status_code == 200 else None)(d.get("/health")))
        assert r.status_code == 200 and r.json()["data"]["database"]["status"] == "up"
    finally:
        proxy.close()


@needs_servers
def test_cache_degrades_to_memory_and_recovers(daemons):
    u = urllib.parse.urlparse(os.environ["WGM_TEST_REDIS_URL"])
    proxy = TcpProxy(u.hostname, u.port)
    try:
        d = daemons(env={"WGM_CACHE_URL": proxied(os.environ["WGM_TEST_REDIS_URL"], proxy)})
        data = d.get("/health").json()["data"]
        assert data["cache"]["backend"] == "redis" and data["cache"]["degraded"] is False
        proxy.cut()
        r = wait_for(lambda: (lambda x: x if x.json()["data"]["status"] == "degraded" else None)(d.get("/health")))
        assert r.status_code == 200  # a degraded cache is not an outage
        assert r.json()["data"]["cache"]["status"] == "down"
        proxy.restore()
        r = wait_for(lambda: (lambda x: x if x.json()["data"]["status"] == "healthy" else None)(d.get("/health")))
        assert r.json()["data"]["cache"]["degraded"] is False
    finally:
        proxy.close()


def test_unreachable_database_at_start_is_a_clear_error(daemons, tmp):
    from conftest import Wgmd
    d = Wgmd(tmp, env={"WGM_DATABASE_URL": "mysql://wgm:wrong-secret-pw@127.0.0.1:1/wgm"})
    d.start(wait=False)
    assert d.wait_exit() != 0
    text = d.log_text()
    assert "cannot start" in text and "wrong-secret-pw" not in text


def test_unknown_database_scheme(tmp):
    from conftest import Wgmd
    d = Wgmd(tmp, env={"WGM_DATABASE_URL": "postgres://x@127.0.0.1/db"})
    d.start(wait=False)
    assert d.wait_exit() != 0
    assert "postgres" in d.log_text()
