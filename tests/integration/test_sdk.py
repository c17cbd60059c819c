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


def sql_rows(d, query):
    """Read the plugin's table straight from the database wgmd uses."""
    if BACKEND == "mysql":
        u = urllib.parse.urlparse(d.env["WGM_DATABASE_URL"])
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
    plugins = {p["name"]: p for p in d.call("GET", "/plugins", token=d.login()).json()["data"]["plugins"]}
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
    # with credentials holding the permission the route answers from its table
    r = d.call("GET", "/example/ticks", token=d.login())
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["ticks"] >= 3 and data["greeting"] == "hello from example"


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
    plugins = {p["name"]: p for p in d.call("GET", "/plugins", token=d.login()).json()["data"]["plugins"]}
    assert plugins["example"]["state"] == "running"
