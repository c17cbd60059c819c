"""WebSocket endpoint GET /ws/connect over a real socket: handshake, auth,
push of bus events, subscriptions, RFC 6455 violations, slow clients,
shutdown.  The client below is a minimal RFC 6455 implementation (masking,
fragmentation, control frames) over a raw socket: only the stdlib."""
import base64
import hashlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest
import requests

from conftest import assert_error

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TYPES = ["system_status", "wireguard_status", "bgp_status", "ipv6_status", "alert"]
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    """The server closed the TCP connection."""


class WS:
    """One client connection: the handshake, then frames."""

    def __init__(self, port, token=None, headers=None, key=None, rcvbuf=None, extra=b"", path="/ws/connect"):
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        hdrs = {
            "Host": "127.0.0.1:%d" % port,
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": self.key,
            "Sec-WebSocket-Version": "13",
        }
        hdrs.update(headers or {})
        target = path + ("?token=" + token if token else "")
        req = "GET %s HTTP/1.1\r\n" % target
        req += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs.items() if v is not None)
        self.sock.sendall(req.encode() + b"\r\n" + extra)
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed("closed during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()

    # --- sending ---------------------------------------------------------

    @staticmethod
    def encode(opcode, payload=b"", fin=True, mask=True, rsv=0):
        if isinstance(payload, str):
            payload = payload.encode()
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        m = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, m | n)
        elif n <= 0xFFFF:
            head = struct.pack("!BBH", b0, m | 126, n)
        else:
            head = struct.pack("!BBQ", b0, m | 127, n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    def send(self, opcode, payload=b"", **kw):
        self.sock.sendall(self.encode(opcode, payload, **kw))

    def send_json(self, obj):
        self.send(OP_TEXT, json.dumps(obj))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # --- receiving -------------------------------------------------------

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise socket.timeout("timed out waiting for a frame")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self, timeout=10):
        """(fin, opcode, payload) of the next frame, asserting server framing."""
        deadline = time.time() + timeout
        b0, b1 = self._need(2, deadline)
        assert b1 & 0x80 == 0, "server frames must not be masked"
        assert b0 & 0x70 == 0, "no RSV bits from the server"
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._need(2, deadline))
            assert n >= 126, "minimal length encoding"
        elif n == 127:
            (n,) = struct.unpack("!Q", self._need(8, deadline))
            assert n > 0xFFFF, "minimal length encoding"
        return bool(b0 & 0x80), b0 & 0x0F, self._need(n, deadline)

    def recv_json(self, timeout=10, types=None):
        """Next text message (answering server pings), optionally of @types."""
        deadline = time.time() + timeout
        while True:
            fin, op, payload = self.recv_frame(max(0.01, deadline - time.time()))
            assert fin, "the server does not fragment"
            if op == OP_PING:
                self.send(OP_PONG, payload)
                continue
            assert op == OP_TEXT, "expected text, got opcode %d %r" % (op, payload)
            msg = json.loads(payload.decode("utf-8"))
            assert set(msg) == {"type", "data", "timestamp"}, msg
            assert TS.fullmatch(msg["timestamp"]), msg
            if types is None or msg["type"] in types:
                return msg

    def expect_close(self, timeout=10):
        """Read until the server's close frame; (code, reason), then EOF."""
        deadline = time.time() + timeout
        while True:
            fin, op, payload = self.recv_frame(max(0.01, deadline - time.time()))
            if op == OP_CLOSE:
                break
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        reason = payload[2:].decode("utf-8")
        # The server then closes TCP first.
        with pytest.raises(Closed):
            while True:
                self._need(len(self.buf) + 1, deadline)
        return code, reason


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def connect(d, token, **kw):
    ws = WS(d.port, token=token, **kw)
    assert ws.status == 101, ws.buf
    welcome = ws.recv_json()
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


def publish(d, token, topic, data, count=1):
    r = d.call("POST", "/fixtures/publish", token=token, json={"topic": topic, "data": data, "count": count})
    assert r.status_code == 200, r.text
    return r.json()["data"]["count"]


def ws_get(d, params=None, **headers):
    """The handshake as plain HTTP, for the refusals."""
    h = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    h.update(headers)
    return requests.get(d.url + "/ws/connect", params=params, headers={k: v for k, v in h.items() if v is not None},
                        timeout=10)


@pytest.fixture
def wsd(daemons):
    d = daemons(plugins=["slow"])
    d.token = d.login()
    return d


# --- handshake -------------------------------------------------------------

def test_handshake_accept_and_welcome(wsd):
    ws = WS(wsd.port, token=wsd.token, key="dGhlIHNhbXBsZSBub25jZQ==")
    assert ws.status == 101
    assert ws.headers["upgrade"].lower() == "websocket"
    assert ws.headers["connection"].lower() == "upgrade"  # exactly once
    assert ws.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    welcome = ws.recv_json()
    assert welcome["type"] == "welcome"
    assert welcome["data"]["user"]["username"] == "admin"
    assert welcome["data"]["types"] == TYPES  # admin ("*") may see everything
    ws.close()

    ws = WS(wsd.port, token=wsd.token)
    assert ws.status == 101
    assert ws.headers["sec-websocket-accept"] == accept_for(ws.key)
    ws.close()


def test_handshake_tokens_are_case_insensitive(wsd):
    ws = WS(wsd.port, token=wsd.token, headers={"Upgrade": "WebSocket", "Connection": "keep-alive, upgrade"})
    assert ws.status == 101
    assert ws.recv_json()["type"] == "welcome"
    ws.close()


def test_handshake_version(wsd):
    for version in (None, "8", "14", "13, 8"):
        r = ws_get(wsd, {"token": wsd.token}, **{"Sec-WebSocket-Version": version})
        err = assert_error(r, 426, "BAD_REQUEST")
        assert r.headers["Sec-WebSocket-Version"] == "13"
        assert "Sec-WebSocket-Version" in err["details"]


def test_handshake_bad_key(wsd):
    for key in (None, "", "short", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ===",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "dGhlIHNhbXBsZSBub25j!Q=="):
        r = ws_get(wsd, {"token": wsd.token}, **{"Sec-WebSocket-Key": key})
        err = assert_error(r, 400, "BAD_REQUEST")
        assert "Sec-WebSocket-Key" in err["details"], (key, err)


def test_handshake_needs_upgrade_headers(wsd):
    err = assert_error(ws_get(wsd, {"token": wsd.token}, Upgrade=None), 400, "BAD_REQUEST")
    assert "Upgrade" in err["details"]
    err = assert_error(ws_get(wsd, {"token": wsd.token}, Upgrade="h2c"), 400, "BAD_REQUEST")
    assert "Upgrade" in err["details"]
    err = assert_error(ws_get(wsd, {"token": wsd.token}, Connection="keep-alive"), 400, "BAD_REQUEST")
    assert "Connection" in err["details"]
    r = requests.post(wsd.url + "/ws/connect", params={"token": wsd.token}, timeout=10)
    assert_error(r, 405, "METHOD_NOT_ALLOWED")


def test_no_token_is_refused_before_upgrading(wsd):
    assert_error(ws_get(wsd), 401, "TOKEN_INVALID")
    ws = WS(wsd.port)
    assert ws.status == 401
    assert "upgrade" not in ws.headers
    ws.close()


def test_bad_token_is_refused(wsd):
    assert_error(ws_get(wsd, {"token": "not-a-jwt"}), 401, "TOKEN_INVALID")
    forged = wsd.token[:-4] + ("AAAA" if not wsd.token.endswith("AAAA") else "BBBB")
    assert_error(ws_get(wsd, {"token": forged}), 401, "TOKEN_INVALID")
    ws = WS(wsd.port, token="not-a-jwt")
    assert ws.status == 401
    ws.close()


def test_bearer_header_also_works(wsd):
    ws = WS(wsd.port, headers={"Authorization": "Bearer " + wsd.token})
    assert ws.status == 101
    assert ws.recv_json()["type"] == "welcome"
    ws.close()


# --- push and subscriptions --------------------------------------------------

def test_published_event_is_pushed(wsd):
    ws, _ = connect(wsd, wsd.token)
    data = {"cpu_usage": 45.2, "memory_usage": 50.0, "network_traffic": {"bytes_sent": 1024000}}
    publish(wsd, wsd.token, "system_status", data)
    msg = ws.recv_json()
    assert msg["type"] == "system_status"
    assert msg["data"] == data
    # Topics outside the four are not pushed.
    publish(wsd, wsd.token, "something_else", {"x": 1})
    publish(wsd, wsd.token, "alert", {"id": "alert_1", "level": "warning", "message": "CPU使用率超过80%"})
    msg = ws.recv_json()
    assert msg["type"] == "alert" and msg["data"]["message"] == "CPU使用率超过80%"
    ws.close()


def test_subscribe_filter(wsd):
    ws, _ = connect(wsd, wsd.token)
    ws.send_json({"type": "subscribe", "data": {"types": ["alert"]}})
    ack = ws.recv_json()
    assert ack["type"] == "subscribed" and ack["data"]["types"] == ["alert"]
    publish(wsd, wsd.token, "system_status", {"n": 1})
    publish(wsd, wsd.token, "alert", {"n": 2})
    msg = ws.recv_json()
    assert msg["type"] == "alert" and msg["data"] == {"n": 2}, "system_status must not be delivered"
    # Subscribing adds; unsubscribing removes.
    ws.send_json({"type": "subscribe", "data": {"types": ["bgp_status"]}})
    assert ws.recv_json()["data"]["types"] == ["bgp_status", "alert"]
    ws.send_json({"type": "unsubscribe", "data": {"types": ["alert"]}})
    ack = ws.recv_json()
    assert ack["type"] == "unsubscribed" and ack["data"]["types"] == ["bgp_status"]
    publish(wsd, wsd.token, "alert", {"n": 3})
    publish(wsd, wsd.token, "bgp_status", {"n": 4})
    msg = ws.recv_json()
    assert msg["type"] == "bgp_status" and msg["data"] == {"n": 4}
    ws.close()


def test_bad_messages_get_errors_not_disconnects(wsd):
    ws, _ = connect(wsd, wsd.token)
    ws.send_json({"type": "subscribe", "data": {"types": ["alert", "nope"]}})
    err = ws.recv_json()
    assert err["type"] == "error" and "nope" in err["data"]["message"]
    ws.send_json({"type": "dance"})
    err = ws.recv_json()
    assert err["type"] == "error" and "dance" in err["data"]["message"]
    ws.send(OP_TEXT, "{not json")
    assert ws.recv_json()["type"] == "error"
    ws.send(OP_TEXT, "[1,2]")
    assert ws.recv_json()["type"] == "error"
    ws.send_json({"type": "subscribe"})
    assert ws.recv_json()["type"] == "error"
    # Still connected, and the failed subscribe changed nothing.
    ws.send_json({"type": "ping", "data": {"n": 7}})
    pong = ws.recv_json()
    assert pong["type"] == "pong" and pong["data"] == {"n": 7}
    publish(wsd, wsd.token, "system_status", {"still": "all"})
    assert ws.recv_json()["type"] == "system_status"
    ws.close()


def test_types_follow_permissions(wsd):
    """An API key limited to wireguard.view sees only wireguard_status and may
    not subscribe to the rest."""
    r = wsd.call("POST", "/auth/api-keys", token=wsd.token,
                 json={"name": "ws-wg", "access_level": "read", "permissions": ["wireguard.view"]})
    assert r.status_code == 201, r.text
    ws, welcome = connect(wsd, r.json()["data"]["api_key"])
    assert welcome["data"]["types"] == ["wireguard_status"]
    ws.send_json({"type": "subscribe", "data": {"types": ["wireguard_status", "alert"]}})
    err = ws.recv_json()
    assert err["type"] == "error" and "alert" in err["data"]["message"], err
    assert "wireguard_status" not in err["data"]["message"]
    publish(wsd, wsd.token, "alert", {"secret": 1})
    publish(wsd, wsd.token, "system_status", {"secret": 2})
    publish(wsd, wsd.token, "wireguard_status", {"servers": []})
    msg = ws.recv_json()
    assert msg["type"] == "wireguard_status" and msg["data"] == {"servers": []}, "nothing it may not see"
    ws.close()


# --- protocol ------------------------------------------------------------------

def test_ping_pong_same_payload(wsd):
    ws, _ = connect(wsd, wsd.token)
    ws.send(OP_PING, b"hello \x00\xff")
    fin, op, payload = ws.recv_frame()
    assert (fin, op, payload) == (True, OP_PONG, b"hello \x00\xff")
    ws.send(OP_PING, b"")
    assert ws.recv_frame() == (True, OP_PONG, b"")
    ws.send(OP_PONG, b"unsolicited")  # allowed, ignored
    ws.send_json({"type": "ping"})
    assert ws.recv_json()["type"] == "pong"
    ws.close()


def test_frames_sent_with_the_handshake(wsd):
    ws = WS(wsd.port, token=wsd.token, extra=WS.encode(OP_PING, b"early"))
    assert ws.status == 101
    frames = [ws.recv_frame(), ws.recv_frame()]
    ops = sorted(f[1] for f in frames)
    assert ops == [OP_TEXT, OP_PONG]
    assert [f[2] for f in frames if f[1] == OP_PONG] == [b"early"]
    ws.close()


def test_fragmented_message_with_interleaved_ping(wsd):
    ws, _ = connect(wsd, wsd.token)
    text = json.dumps({"type": "ping", "data": {"frag": "ü" * 10}}, ensure_ascii=False).encode()
    cut = text.index("ü".encode()) + 1  # split inside a UTF-8 sequence
    ws.send(OP_TEXT, text[:cut], fin=False)
    ws.send(OP_PING, b"mid")
    ws.send(OP_CONT, text[cut:cut + 5], fin=False)
    ws.send(OP_CONT, text[cut + 5:], fin=True)
    assert ws.recv_frame() == (True, OP_PONG, b"mid")
    pong = ws.recv_json()
    assert pong["type"] == "pong" and pong["data"] == {"frag": "ü" * 10}
    ws.close()


def test_client_close_is_echoed(wsd):
    ws, _ = connect(wsd, wsd.token)
    ws.send(OP_CLOSE, struct.pack("!H", 1000) + b"bye")
    code, _ = ws.expect_close()
    assert code == 1000
    ws.close()


@pytest.mark.parametrize("frame,code", [
    (WS.encode(OP_TEXT, b"{}", mask=False), 1002),
    (WS.encode(OP_TEXT, b"{}", rsv=4), 1002),
    (WS.encode(0x3, b"x"), 1002),
    (WS.encode(OP_PING, b"x", fin=False), 1002),
    (WS.encode(OP_CONT, b"x"), 1002),
    (WS.encode(OP_BINARY, b"\x00\x01"), 1003),
    (WS.encode(OP_TEXT, b"a" * 65537), 1009),
    (WS.encode(OP_TEXT, b"\"\xc0\x80\""), 1007),
    (WS.encode(OP_TEXT, b"\xed\xa0\x80"), 1007),
    (WS.encode(OP_CLOSE, struct.pack("!H", 1005)), 1002),
], ids=["unmasked", "rsv", "reserved-opcode", "fragmented-ping", "stray-continuation", "binary",
        "oversize", "overlong-utf8", "surrogate", "bad-close-code"])
def test_violation_closes_with_code(wsd, frame, code):
    ws, _ = connect(wsd, wsd.token)
    ws.sock.sendall(frame)
    got, reason = ws.expect_close()
    assert got == code, reason
    ws.close()


def test_oversize_fragments_close_1009(wsd):
    ws, _ = connect(wsd, wsd.token)
    ws.send(OP_TEXT, b"a" * 40000, fin=False)
    ws.send(OP_CONT, b"a" * 30000, fin=True)
    assert ws.expect_close()[0] == 1009
    ws.close()


# --- load and life cycle -------------------------------------------------------

def test_slow_client_is_dropped_others_keep_receiving(wsd):
    slow = WS(wsd.port, token=wsd.token, rcvbuf=4096)
    assert slow.status == 101
    fast, _ = connect(wsd, wsd.token)
    got = []
    failure = []

    def reader():
        try:
            while True:
                msg = fast.recv_json(timeout=30)
                if msg["type"] == "system_status":
                    got.append(msg["data"]["seq"] + msg["data"]["batch"] * 100)
                    if msg["data"].get("last"):
                        return
        except Exception as e:  # reported below
            failure.append(e)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    pad = "x" * 1000
    published = 0
    deadline = time.time() + 20
    dropped = False
    batch = 0
    while published < 5000 and time.time() < deadline:
        n = publish(wsd, wsd.token, "system_status", {"pad": pad, "batch": batch}, count=100)
        assert n == 100, "the bus must not drop: nothing may block its dispatcher"
        published += n
        batch += 1
        if re.search(r"ws.*too slow", wsd.log_text()):
            dropped = True
            break
        # Pace the bursts by the reading client, so only the one that never
        # reads can fall behind, however loaded the machine is.
        catch_up = time.time() + 10
        while len(got) < published and time.time() < catch_up and not failure:
            time.sleep(0.01)
    if not dropped:
        wsd.wait_log(r"ws.*too slow", timeout=5)
    publish(wsd, wsd.token, "system_status", {"pad": "", "batch": batch, "seq": 0, "last": True})
    published += 1
    t.join(timeout=30)
    assert not failure, failure
    assert got == list(range(published)), "the fast client gets every event, in order"

    # The slow client is gone: what it can still read ends, well short of everything.
    received = 0
    ended = False
    slow.sock.settimeout(10)
    try:
        while True:
            fin, op, payload = slow.recv_frame(timeout=10)
            if op == OP_CLOSE:
                assert struct.unpack("!H", payload[:2])[0] == 1008
            received += op == OP_TEXT
    except (Closed, ConnectionResetError):
        ended = True
    assert ended
    assert received < published
    fast.close()
    slow.close()


# A request held in flight across SIGTERM (below drain_timeout), and the drain bound.
HOLD_MS = 8000
DRAIN_TIMEOUT = 20


def accepted_by(d, client_port):
    """Whether wgmd holds our connection from client_port as an open socket:
    accepted, so the drain will serve it (not still in the backlog)."""
    out = subprocess.run(["ss", "-Htnp", "state", "established",
                          "( sport = :%d and dport = :%d )" % (d.port, client_port)],
                         capture_output=True, text=True, timeout=10).stdout
    return "pid=%d," % d.proc.pid in out


def test_sigterm_closes_clients_with_1001(daemons):
    """Clients are closed at once, not after the HTTP drain: the close comes
    while a request is still in flight, and wgmd exits once it is served."""
    d = daemons(plugins=["slow"], config="drain_timeout = %d\n" % DRAIN_TIMEOUT)
    ws, _ = connect(d, d.login())
    slow = socket.create_connection(("127.0.0.1", d.port), timeout=HOLD_MS / 1000 + DRAIN_TIMEOUT)
    slow.sendall(b"GET /api/v1/fixtures/slow?ms=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % HOLD_MS)
    port = slow.getsockname()[1]
    for _ in range(200):
        if accepted_by(d, port):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("wgmd never accepted the slow request")
    answer = {}

    def read_slow():
        buf = b""
        while True:
            chunk = slow.recv(65536)
            if not chunk:
                break
            buf += chunk
        answer["text"] = buf.decode("latin-1")

    reader = threading.Thread(target=read_slow, daemon=True)
    reader.start()
    d.proc.send_signal(signal.SIGTERM)
    code, _ = ws.expect_close(timeout=HOLD_MS / 1000)
    assert code == 1001
    assert "text" not in answer, "the WebSocket closes before the drain ends, not after it"
    ws.close()
    assert d.wait_exit(timeout=DRAIN_TIMEOUT + 10) == 0
    reader.join(timeout=10)
    assert answer["text"].startswith("HTTP/1.1 200"), answer
    assert '"slept_ms":%d' % HOLD_MS in answer["text"].replace(" ", "")
    slow.close()
