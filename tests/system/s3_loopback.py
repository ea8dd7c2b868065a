"""A real S3 API on loopback (moto's ThreadedMotoServer) and a big CSV streamed into it, each in a
child process of its own (not a test module).

Why child processes: the s3:// test measures the memory of the process that runs the Airflow task
(``dag.test()`` runs it in the test process). moto keeps objects in its own memory and builds a
multipart object whole when the upload completes; the big file is generated with a write buffer.
Neither must count against the worker, so both live elsewhere.

    python -m tests.system.s3_loopback serve [READ_LOG] # prints the port, serves until killed
    python -m tests.system.s3_loopback write URL ROWS   # AIRFLOW_CONN_<conn id> set by the caller
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: ``Email,FirstName,LastName,Company,Country``; rows this many apart get an invalid address.
HEADER = "Email,FirstName,LastName,Company,Country\n"
BAD_EVERY = 100_000


def row(i: int) -> str:
    """Input row ``i`` (1-based): about 230 bytes, each value within Eloqua's 100-character text fields."""
    email = f"not-an-address-{i}" if i % BAD_EVERY == 0 else f"person{i}@example.com"
    return f"{email},First{i:<24},Last{i:<34},Company {i} {'Acme Widgets International ' * 3},Country{i:<22}\n"


def bad_rows(rows: int) -> list[int]:
    return [i for i in range(1, rows + 1) if i % BAD_EVERY == 0]


def rows_for(size: int) -> int:
    """How many rows make a file of at least ``size`` bytes (row 1 is the shortest)."""
    return size // len(row(1)) + 1


def aws_connection_json(endpoint_url: str) -> str:
    """An ``aws`` connection as a user writes one for an S3-compatible endpoint (moto takes any key)."""
    import json

    return json.dumps(
        {
            "conn_type": "aws",
            "login": "loopback-access-key",
            "password": "loopback-secret-key",
            "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1"},
        }
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ReadLog:
    """WSGI middleware: one line per object GET, ``<monotonic ns> <path> <last byte asked for>``.

    Written when the request arrives, before any byte is answered, so a byte that a reader holds was
    asked for no later than its line says. The clock is CLOCK_MONOTONIC, which every process on the
    host shares: the test orders these lines against the emulator's staged uploads. A GET without
    ``Range`` asks for the whole object (logged as ``-1``).
    """

    def __init__(self, app, path: str) -> None:
        self.app = app
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 - open for the server's lifetime

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "GET":
            asked = environ.get("HTTP_RANGE", "")
            last = int(asked.rpartition("-")[2]) if asked.startswith("bytes=") and asked[-1:].isdigit() else -1
            self.out.write(f"{time.monotonic_ns()} {environ['PATH_INFO']} {last}\n")
        return self.app(environ, start_response)


def read_log(path: Path, key: str) -> list[tuple[int, int]]:
    """The GETs of ``key`` (``bucket/object``) in ``path``'s log: ``(monotonic ns, last byte asked for or -1)``."""
    entries = []
    for line in path.read_text().splitlines():
        at, object_path, last = line.split(" ")
        if object_path == "/" + key:
            entries.append((int(at), int(last)))
    return entries


def serve(log_path: str | None) -> None:
    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1", 0, ReadLog(app, log_path) if log_path else app, threaded=True, request_handler=MotoRequestHandler
    )
    print(server.server_address[1], flush=True)
    server.serve_forever()  # until the parent terminates this process


def write(url: str, rows: int) -> None:
    """Stream ``rows`` rows to ``url`` (an ObjectStoragePath URL) in ~1 MB writes."""
    from airflow.sdk import ObjectStoragePath

    with ObjectStoragePath(url).open("wb") as out:
        out.write(HEADER.encode())
        piece: list[str] = []
        for i in range(1, rows + 1):
            piece.append(row(i))
            if len(piece) == 4096:
                out.write("".join(piece).encode())
                piece.clear()
        out.write("".join(piece).encode())


@contextmanager
def moto_server(read_log: Path | None = None) -> Iterator[str]:
    """Start the S3 server in a child process (logging object GETs to ``read_log``); yield its URL; stop it."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.system.s3_loopback", "serve", *([str(read_log)] if read_log else [])],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        if not line.strip().isdigit():
            raise RuntimeError(f"the moto server did not start (exit code {child.poll()})")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        child.terminate()
        child.wait(30)


@contextmanager
def emulator_process() -> Iterator[str]:
    """The Eloqua emulator CLI in a child process (it keeps every staged row in memory)."""
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_eloqua.emulator.cli", "--port", str(port), "--log-level", "warning"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        child.terminate()
        child.wait(30)


def write_in_child(url: str, rows: int, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "tests.system.s3_loopback", "write", url, str(rows)],
        cwd=REPO,
        env={**os.environ, **env},
        check=True,
        timeout=600,
    )


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2] if len(sys.argv) > 2 else None)
    elif sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {sys.argv[1]!r}")
