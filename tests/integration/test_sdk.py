"""The SDK as a third party uses it: sdk/example built out of tree with
pkg-config against the installed SDK, loaded into a real wgmd."""
import json
import os
import shutil
import sqlite3
import subprocess
import time
import urllib.parse

import pytest

from conftest import BACKEND, PREFIX, ROOT, assert_error


@pytest.fixture(scope="module")
def example_so(tmp_path_factory):
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


def sql_rows(d, query):
    """Read the plugin's table straight from the database wgmd uses."""
    if BACKEND == "mysql":
        u = urllib.parse.urlparse(os.environ["WGM_TEST_MYSQL_URL"])
        out = subprocess.run(["mariadb", "-h", u.hostname, "-P", str(u.port), "-u", u.username,
                              "-p" + urllib.parse.unquote(u.password), "-N", "-B", u.path.lstrip("/"), "-e", query],
                             capture_output=True, text=True, check=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines()]
    con = sqlite3.connect(os.path.join(d.state, "wgm.db"))
    try:
        return [tuple(str(c) for c in row) for row in con.execute(query)]
    finally:
        con.close()


def test_example_plugin_runs_route_timer_and_migration(daemons, example_so):
    d = daemons(plugins=[example_so], dropins={"50-example.conf": "[example]\nenabled = yes\ninterval_ms = 100\n"})
    plugins = {p["name"]: p for p in d.get("/plugins").json()["data"]["plugins"]}
    assert plugins["example"]["state"] == "running", plugins["example"]
    assert "example" in d.get("/version").json()["data"]["features"]
    # migration recorded under the plugin's name
    assert ("example", "1") in sql_rows(d, "SELECT module, version FROM schema_migrations")
    # the timer writes rows into the plugin's table
    deadline = time.time() + 10
    while time.time() < deadline and int(sql_rows(d, "SELECT COUNT(*) FROM example_ticks")[0][0]) < 3:
        time.sleep(0.1)
    assert int(sql_rows(d, "SELECT COUNT(*) FROM example_ticks")[0][0]) >= 3
    # its route is registered with a permission: without credentials it is
    # refused (fail closed), never 404 and never served anonymously
    err = assert_error(d.get("/example/ticks"), 401, "TOKEN_INVALID")
    assert err["details"]["permission"] == "example.view"


def test_example_plugin_config_is_validated(tmp, example_so):
    from conftest import Wgmd
    d = Wgmd(tmp, plugins=[example_so], dropins={"50-example.conf": "[example]\ninterval_ms = 5\n"})
    rc, out = d.check()
    assert rc != 0 and "50-example.conf:2" in out and "interval_ms" in out


def test_example_restart_keeps_migration_idempotent(daemons, example_so):
    d = daemons(plugins=[example_so])
    d.stop()
    assert d.proc.returncode == 0
    d.start()
    plugins = {p["name"]: p for p in d.get("/plugins").json()["data"]["plugins"]}
    assert plugins["example"]["state"] == "running"
