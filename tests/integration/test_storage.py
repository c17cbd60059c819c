"""Health follows the real database and cache: cut them away (through a
TCP proxy, so the shared servers stay up) and bring them back.  MariaDB over
TLS with the test CA of scripts/services; rediss:// refused with the
alternatives named."""
import os
import subprocess
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


# --- MariaDB over TLS ------------------------------------------------------------

CA = os.environ.get("WGM_TEST_MYSQL_CA", "")
needs_tls = pytest.mark.skipif(BACKEND != "mysql" or not CA,
                               reason="needs MariaDB with TLS from scripts/services (WGM_TEST_MYSQL_CA)")


def with_tls(url, user=None, **options):
    """@url as another MariaDB user and with URL options."""
    u = urllib.parse.urlparse(url)
    if user:
        u = u._replace(netloc=user + u.netloc[u.netloc.index(":"):])
    return u._replace(query=urllib.parse.urlencode(options)).geturl()


def refused(tmp, url):
    from conftest import Wgmd
    d = Wgmd(tmp, env={"WGM_DATABASE_URL": url})
    d.start(wait=False)
    assert d.wait_exit() != 0
    return d.log_text()


def other_ca(tmp):
    """A CA that did not sign MariaDB's certificate."""
    key, cert = os.path.join(tmp, "other-ca.key"), os.path.join(tmp, "other-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "2", "-subj", "/CN=not the test CA", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert


@needs_tls
def test_mariadb_tls_with_the_test_ca(daemons, tmp):
    from conftest import fresh_mysql_url
    base = fresh_mysql_url()
    # wgm_tls is REQUIRE SSL: the server itself refuses it a plain connection...
    text = refused(tmp, with_tls(base, user="wgm_tls"))
    assert "Access denied" in text, text
    # ...so a daemon that runs as wgm_tls proves its connection is encrypted.
    d = daemons(env={"WGM_DATABASE_URL": with_tls(base, user="wgm_tls", ssl="required", ssl_ca=CA)})
    assert d.get("/health").json()["data"]["database"]["status"] == "up"
    tok = d.login()
    assert d.call("GET", "/users/me", token=tok).status_code == 200


@needs_tls
def test_mariadb_tls_with_a_wrong_ca_refuses_to_start(tmp):
    from conftest import fresh_mysql_url
    base = fresh_mysql_url()
    password = urllib.parse.urlparse(base).password
    text = refused(tmp, with_tls(base, ssl="required", ssl_ca=other_ca(tmp)))
    assert "cannot start" in text and "TLS required" in text and "certificate" in text.lower(), text
    assert password not in text


@needs_tls
def test_mariadb_tls_verifies_by_default(daemons, tmp):
    """Without ssl_ca the system's CAs are the trust: the test CA is not one
    of them, so the certificate is refused; ssl_verify=no (encryption only)
    gets through, which shows the refusal is the verification."""
    from conftest import fresh_mysql_url
    base = fresh_mysql_url()
    text = refused(tmp, with_tls(base, ssl="required"))
    assert "TLS required, server certificate verified" in text, text
    d = daemons(env={"WGM_DATABASE_URL": with_tls(base, user="wgm_tls", ssl="required", ssl_verify="no")})
    assert d.get("/health").json()["data"]["database"]["status"] == "up"


@pytest.mark.parametrize("options,words", [
    ({"ssl": "maybe"}, "ssl must be required or disabled"),
    ({"ssl_ca": "/etc/hostname"}, "need ssl=required"),
    ({"ssl_verify": "no"}, "need ssl=required"),
    ({"ssl": "required", "ssl_verify": "perhaps"}, "ssl_verify must be yes or no"),
    ({"ssl": "required", "ssl_ca": "/nonexistent/ca.pem"}, "/nonexistent/ca.pem"),
    ({"ssl": "required", "ssl_ca": "/etc/hostname", "ssl_verify": "no"}, "contradict"),
])
def test_mariadb_tls_options_are_checked(tmp, options, words):
    text = refused(tmp, with_tls("mysql://wgm:pw-not-shown@127.0.0.1:1/wgm", **options))
    assert words in text and "pw-not-shown" not in text, text


# --- Redis over TLS: not with Debian 12's hiredis -----------------------------------

def test_rediss_is_refused_naming_the_alternatives(tmp):
    from conftest import Wgmd
    d = Wgmd(tmp, env={"WGM_CACHE_URL": "rediss://:cache-secret@127.0.0.1:6380/0"})
    d.start(wait=False)
    assert d.wait_exit() != 0
    text = d.log_text()
    assert "rediss://" in text and "not supported" in text, text
    assert "unix://" in text and "stunnel" in text and "spiped" in text, text
    assert "cache-secret" not in text
