"""A loopback HTTP "discard" server for the upload benchmarks.

It reads every request body in full into one reused buffer and throws it away, then answers
``204 No Content`` (``GET /id`` gets a minimal Eloqua discovery answer, ``GET /_stats`` the
request and body-byte counts). Each connection has its own thread; bodies are read with
``recv_into`` in 1 MiB steps, so the server costs as little as a Python server can. Only
``Content-Length`` bodies are understood (what ``requests`` sends for a bytes body).

Run it as a script: it prints its port on the first line of stdout and serves until killed.
"""

from __future__ import annotations

import json
import socket
import sys
import threading

_BUF = 1 << 20
_NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
_lock = threading.Lock()
_stats = {"requests": 0, "body_bytes": 0}


def _json_answer(obj: object) -> bytes:
    body = json.dumps(obj).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _answer(method: bytes, path: bytes, port: int) -> bytes:
    if method == b"GET" and path.startswith(b"/_stats"):
        with _lock:
            answer = dict(_stats)
            if path.startswith(b"/_stats/reset"):
                _stats.update(requests=0, body_bytes=0)
        return _json_answer(answer)
    if method == b"GET" and path.split(b"?")[0] == b"/id":
        base = f"http://127.0.0.1:{port}"
        return _json_answer(
            {
                "site": {"id": 1, "name": "Bench"},
                "user": {"id": 1, "username": "Bench.User"},
                "urls": {"base": base, "apis": {"rest": {"bulk": base + "/api/bulk/{version}/"}}},
            }
        )
    return _NO_CONTENT


def _handle(conn: socket.socket, port: int) -> None:
    buf = bytearray(_BUF)
    view = memoryview(buf)
    pending = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            head, _, pending = pending.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            method, path = lines[0].split(b" ")[:2]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            taken = min(length, len(pending))
            pending = pending[taken:]
            left = length - taken
            while left:
                got = conn.recv_into(view, min(left, _BUF))
                if not got:
                    return
                left -= got
            if not path.startswith(b"/_stats"):
                with _lock:
                    _stats["requests"] += 1
                    _stats["body_bytes"] += length
            conn.sendall(_answer(method, path, port))


def serve(port: int = 0) -> None:
    server = socket.create_server(("127.0.0.1", port), backlog=64)
    port = server.getsockname()[1]
    print(port, flush=True)
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_handle, args=(conn, port), daemon=True).start()


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
