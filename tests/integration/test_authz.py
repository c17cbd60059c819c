"""The authorization matrix, generated from the live route table
(GET /system/routes), so routes added by plugins later are covered without
editing this file: without credentials every protected route answers 401,
with a principal lacking the permission 403, with it neither."""
import json

from conftest import assert_error


def path_for(template):
    parts = []
    for seg in template.split("/"):
        parts.append(("ak_AAAAAAAAAA" if "key" in template or "api-keys" in template else "1")
                     if seg.startswith("{") else seg)
    return "/".join(parts)


def test_every_route_enforces_its_permission(daemons, example_so):
    import os
    from conftest import PREFIX
    plugins = [example_so, "good", "slow"]
    for name in ("wireguard", "ipv6pool", "bgp", "monitor"):
        so = os.path.join(PREFIX, "lib", "wgm", "plugins", name + ".so")
        if os.path.exists(so):  # built unless configure --disable-<name>
            plugins.append(so)
    d = daemons(plugins=plugins)
    admin = d.login()
    # the walk makes hundreds of calls: lift the limits through the API itself
    assert d.call("PUT", "/system/config", token=admin,
                  json={"api_rate_limit": 1000000, "anonymous_rate_limit": 1000000}).status_code == 200
    routes = d.call("GET", "/system/routes", token=admin).json()["data"]["routes"]
    templates = {r["path"] for r in routes}
    assert "/api/v1/example/ticks" in templates  # a plugin's route is in the walk
    assert any(t.startswith("/api/v1/wireguard/") for t in templates) or len(plugins) == 3
    # /metrics (monitor.so, prometheus = auth by default) is outside /api/v1 and walked too
    assert "/metrics" in templates or not any("monitor.so" in p for p in plugins if isinstance(p, str))
    assert len(routes) >= 30
    nobody = d.call("POST", "/auth/api-keys", token=admin,
                    json={"name": "no-permissions", "permissions": [], "access_level": "write"}).json()["data"]["api_key"]
    failures = []
    for r in sorted(routes, key=lambda x: (x["path"], x["method"])):
        method, perm = r["method"], r["permission"]
        url = d.url + path_for(r["path"])
        body = json.dumps({}) if method in ("POST", "PUT", "PATCH") else None
        headers = {"Content-Type": "application/json"} if body else {}
        import requests
        def call(extra):
            return requests.request(method, url, data=body, headers=dict(headers, **extra), timeout=10)
        if perm is None:
            continue  # public by declaration
        got = call({}).status_code
        if got != 401:
            failures.append("%s %s without credentials: %d, want 401" % (method, r["path"], got))
        if perm != "self":
            got = call({"Authorization": "Bearer " + nobody}).status_code
            if got != 403:
                failures.append("%s %s (%s) without the permission: %d, want 403" % (method, r["path"], perm, got))
        if perm not in ("2fa-pending",):
            got = call({"Authorization": "Bearer " + d.login()}).status_code
            if got in (401, 403):
                failures.append("%s %s (%s) with it: %d" % (method, r["path"], perm, got))
    assert not failures, "\n".join(failures)


def test_routes_listing_needs_permission(daemons):
    d = daemons()
    assert_error(d.get("/system/routes"), 401, "TOKEN_INVALID")
