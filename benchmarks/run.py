"""Upload benchmark: every input format against the wire it has to cross (issue 11).

    python -m benchmarks.run [--rows 1000000] [--links 25:40,100:40] [--repeat 3] [--smoke]

A real Eloqua upload waits on the network link, so the measure is the link, not a loopback
memory copy. ``benchmarks/link_server.py`` runs in its own process per link: it reads request
bodies at a capped rate and waits a fixed round-trip time before each ``204`` answer, as
Eloqua's data endpoint behind that link would. For each link, in one run:

* **limit**: the rows as CSV bytes (the smallest encoding Eloqua takes), pre-built in memory as
  the fewest bodies of at most ``chunk_bytes`` (30 MiB), POSTed one after another on one
  ``requests.Session``. No uploader of these rows can finish sooner on this link.
* **provider**, per input format: ``staging.stage_input`` with an ``EloquaHook`` on a connection
  whose host is the link server, and the chunks the operators build (the same calls as
  ``_chunk_factory``): a CSV file, JSON rows from XCom (a list of dicts in memory), a JSON
  array file and an NDJSON file. ``cpu s`` is the CPU time of building the chunks alone,
  without HTTP (so it does not depend on what else the machine is doing).
* **peer**: pyeloqua's ``Bulk.post_data`` (one JSON POST of every row, so at most 32 MB: 200k
  rows) on the same link, beside the limit and the provider's JSON rows at that size.

Times are the best of ``--repeat`` runs; ``ratio`` = limit time / path time (1.00 = at the
wire). Every run is checked against the server's own count of requests, body bytes and rows.
Peak RSS (``VmHWM``) is measured for each format in a fresh process per row count
(``--rss-rows``, 10k and the full size), on the last link.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIELDS = ["Email", "FirstName", "LastName", "Company", "Country"]
IDENTIFIER = "Email"
DEFINITION_URI = "/contacts/imports/1"
CONN_ID = "eloqua_bench"
FORMATS = ("csv", "json-rows", "json-file", "ndjson")
DEFAULT_ROWS = 1_000_000
DEFAULT_PEER_ROWS = 200_000
DEFAULT_RSS_ROWS = (10_000, 1_000_000)
DEFAULT_LINKS = ((25.0, 40.0), (100.0, 40.0))
#: The harness's check (tests/benchmarks): every path once, and one fresh process per format for the RSS.
SMOKE = {"rows": 1_000, "peer_rows": 500, "rss_rows": (200,), "links": ((1000.0, 1.0),), "repeat": 1}
#: (link MB/s, format) -> the least ratio to the limit the issue asks for.
TARGETS = {25.0: {"csv": 0.95, "*": 0.9}, 100.0: {"csv": 0.9, "*": 0.6}}
RSS_TARGET = 1.5

_FIRST = ["Anna", "Jörg", "Zoë", "Li", "Mark", "Sofía", "Ólafur", "Chloé", "Ivan", "Amélie", "Tom", "Ines"]
_LAST = ["Müller", "Smith", "García", "Nguyen", "O'Brien", "Kowalski", "Dubois", "Rossi", "Søndergaard"]
_COUNTRY = ["DE", "US", "FR", "GB", "ES", "NL", "SE", "JP", "BR", "IN"]


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------


def contact_rows(n: int) -> Iterator[dict[str, Any]]:
    """N deterministic contact rows; about 1 in 10 needs CSV quoting, many names are non-ASCII."""
    for i in range(n):
        if i % 10 == 0:
            company = f"Acme {i % 97}, Inc."  # a comma: quoted in CSV
        elif i % 101 == 0:
            company = f'The "Best" Co {i % 13}'  # quotes: quoted and doubled in CSV
        else:
            company = f"Company {i % 977}"
        yield {
            "Email": f"user{i}@example{i % 50}.com",
            "FirstName": _FIRST[i % len(_FIRST)],
            "LastName": _LAST[i % len(_LAST)],
            "Company": company,
            "Country": _COUNTRY[i % len(_COUNTRY)],
        }


@dataclass
class Inputs:
    rows: int
    paths: dict[str, Path]  # format -> file


def input_paths(directory: Path, n: int) -> dict[str, Path]:
    return {
        kind: directory / f"contacts-{n}.{ext}"
        for kind, ext in (("csv", "csv"), ("json-file", "json"), ("ndjson", "ndjson"))
    }


def write_inputs(directory: Path, n: int) -> Inputs:
    """The rows as a CSV file, a JSON array file and an NDJSON file (UTF-8)."""
    paths = input_paths(directory, n)
    with open(paths["csv"], "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(FIELDS)
        writer.writerows([r[k] for k in FIELDS] for r in contact_rows(n))
    with open(paths["json-file"], "w", encoding="utf-8") as f, open(paths["ndjson"], "w", encoding="utf-8") as nd:
        f.write("[\n")
        for i, row in enumerate(contact_rows(n)):
            line = json.dumps(row, ensure_ascii=False)
            f.write(("," if i else "") + line + "\n")
            nd.write(line + "\n")
        f.write("]\n")
    return Inputs(n, paths)


# ------------------------------------------------------------------------------------------------
# the link server, the hook and the measured paths
# ------------------------------------------------------------------------------------------------


class LinkServer:
    """``benchmarks/link_server.py`` in a subprocess; ``url`` is its root."""

    def __init__(self, rate: float, rtt_ms: float, export_dir: Path | None = None) -> None:
        self.rate = rate
        self.rtt_ms = rtt_ms
        self.export_dir = export_dir
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> LinkServer:
        script = Path(__file__).with_name("link_server.py")
        cmd = [sys.executable, str(script), "--rate", str(self.rate), "--rtt-ms", str(self.rtt_ms), "--with-parent"]
        cmd += ["--fields", ",".join(FIELDS)]  # the definitions it serves the operators
        if self.export_dir is not None:
            cmd += ["--export-dir", str(self.export_dir)]
        # The server exits when this process's end of its stdin closes, even if this one is killed.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc.stdout.close()
            self.proc.stdin.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_url(self) -> str:
        return f"{self.url}/api/bulk/2.0{DEFINITION_URI}/data"

    def stats(self, reset: bool = False) -> dict[str, int]:
        import requests

        return requests.get(self.url + ("/_stats/reset" if reset else "/_stats"), timeout=30).json()

    def log(self, reset: bool = False) -> list[dict[str, Any]]:
        """Every request since the last reset, with the server's times (see ``link_server.Log``)."""
        import requests

        return requests.get(self.url + ("/_log/reset" if reset else "/_log"), timeout=30).json()


def make_hook(port: int) -> Any:
    """An EloquaHook on an ``eloqua`` connection whose host is the link server (basic auth, no discovery)."""
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {
            "conn_type": "eloqua",
            "host": f"http://127.0.0.1:{port}",
            "login": "Bench.User",
            "password": "bench-password",
            "extra": {"site": "BenchSite", "timeout": 300},
        }
    )
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

    # One "Staged chunk" INFO line per POST is real work but would bury the table.
    logging.getLogger("airflow_provider_eloqua").setLevel(logging.WARNING)
    return EloquaHook(CONN_ID)


def chunk_factory(kind: str, paths: dict[str, Path], rows: list[dict] | None) -> Callable[[], Iterator]:
    """The chunks the operators build for this input (the same calls as their ``_chunk_factory``)."""
    from airflow_provider_eloqua.chunking import DEFAULT_CHUNK_BYTES, iter_file_chunks, iter_row_chunks
    from airflow_provider_eloqua.storage import open_path

    if kind == "json-rows":
        return lambda: iter_row_chunks(rows, FIELDS, IDENTIFIER, DEFAULT_CHUNK_BYTES)
    fmt = {"csv": "csv", "json-file": "json", "ndjson": "ndjson"}[kind]

    def from_file() -> Iterator:
        with open_path(str(paths[kind]), "rb") as stream:
            yield from iter_file_chunks(stream, fmt, FIELDS, IDENTIFIER, DEFAULT_CHUNK_BYTES)

    return from_file


def run_provider(hook: Any, make_chunks: Callable[[], Iterator]) -> Any:
    from airflow_provider_eloqua.staging import stage_input

    return stage_input(hook, DEFINITION_URI, make_chunks)


def limit_bodies(csv_path: Path) -> list[bytes]:
    """The CSV file as the fewest POST bodies: header plus whole records, each body at most the
    provider's ``chunk_bytes`` (the rows hold no line breaks, so records end at newlines)."""
    from airflow_provider_eloqua.chunking import DEFAULT_CHUNK_BYTES

    data = csv_path.read_bytes()
    cut = data.index(b"\n") + 1
    header, room = data[:cut], DEFAULT_CHUNK_BYTES - cut
    bodies = []
    while cut < len(data):
        end = len(data) if len(data) - cut <= room else data.rindex(b"\n", cut, cut + room) + 1
        bodies.append(header + data[cut:end])
        cut = end
    return bodies


def run_limit(session: Any, url: str, bodies: list[bytes], content_type: str) -> None:
    for body in bodies:
        response = session.post(url, data=body, headers={"Content-Type": content_type})
        if response.status_code != 204:
            raise RuntimeError(f"link server answered {response.status_code}")


def run_pyeloqua(base_url: str, rows: list[dict]) -> None:
    """pyeloqua 0.5.11's ``Bulk.post_data``: every row in one JSON POST (``requests.post``)."""
    from pyeloqua import Bulk

    bulk = Bulk(test=True)  # no login call: point it at the link server instead
    bulk.bulk_base = f"{base_url}/api/bulk/2.0"
    bulk.auth = ("BenchSite\\Bench.User", "bench-password")
    bulk.imports("contacts")
    bulk.job_def = {"uri": DEFINITION_URI}
    bulk.post_data(rows)


def pyeloqua_version() -> str | None:
    try:
        from importlib.metadata import version

        import pyeloqua  # noqa: F401

        return version("pyeloqua")
    except ImportError:
        return None


def best_time(fn: Callable[[], Any], repeat: int, clock: Callable[[], float] = time.perf_counter) -> tuple[float, Any]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        gc.collect()
        start = clock()
        result = fn()
        best = min(best, clock() - start)
    return best, result


# ------------------------------------------------------------------------------------------------
# peak RSS in a fresh process
# ------------------------------------------------------------------------------------------------


def _maxrss_mb() -> float:
    """Peak RSS of this process in MiB: Linux ``VmHWM`` (starts afresh at ``exec``), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; macOS: bytes


def rss_child(kind: str, n: int, directory: str, port: int) -> dict[str, Any]:
    """One provider upload in this (fresh) process: rows, bytes and peak RSS before and after."""
    hook = make_hook(port)
    hook.session  # noqa: B018 - build the session (and import requests' adapters) before measuring
    rows = list(contact_rows(n)) if kind == "json-rows" else None
    before = _maxrss_mb()
    result = run_provider(hook, chunk_factory(kind, input_paths(Path(directory), n), rows))
    peak = _maxrss_mb()
    return {"rows": result.rows, "bytes": result.bytes, "chunks": result.chunks, "before_mb": before, "peak_mb": peak}


def measure_rss(kind: str, n: int, directory: Path, port: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.run", "--rss-child", kind, str(n), str(directory), str(port)]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"RSS child {kind} {n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------


@dataclass
class Row:
    link: tuple[float, float]  # (MB/s, RTT ms)
    path: str  # "limit", a format, "pyeloqua", "limit@peer", "json-rows@peer"
    rows: int
    posts: int
    wire_bytes: int
    seconds: float
    limit_seconds: float
    cpu_seconds: float | None = None
    runs: int = 1
    server: dict[str, int] = field(default_factory=dict)  # the server's counts over the ``runs``
    rss: dict[int, dict[str, Any]] = field(default_factory=dict)  # row count -> rss_child result

    @property
    def ratio(self) -> float:
        return self.limit_seconds / self.seconds


def _check_server(row: Row, stats: dict[str, int]) -> None:
    """The server received exactly what the path says it sent, every run."""
    want = {"requests": row.posts * row.runs, "body_bytes": row.wire_bytes * row.runs, "rows": row.rows * row.runs}
    if stats != want:
        raise RuntimeError(f"{row.path} on {row.link}: the server counted {stats}, the path sent {want}")
    row.server = stats


def run_link(
    link: tuple[float, float],
    inputs: Inputs,
    rows: list[dict],
    peer_rows: list[dict],
    peer_bodies: list[bytes],
    repeat: int,
) -> list[Row]:
    import requests

    from airflow_provider_eloqua.chunking import CSV_CONTENT_TYPE

    out: list[Row] = []
    with LinkServer(*link) as server:
        hook = make_hook(server.port)
        session = requests.Session()
        n = inputs.rows
        csv_bodies = limit_bodies(inputs.paths["csv"])
        csv_bytes = sum(map(len, csv_bodies))
        run_limit(session, server.data_url, csv_bodies[:1], CSV_CONTENT_TYPE)  # open the connection
        server.stats(reset=True)
        limit_s, _ = best_time(lambda b=csv_bodies: run_limit(session, server.data_url, b, CSV_CONTENT_TYPE), repeat)
        limit = Row(link, "limit", n, len(csv_bodies), csv_bytes, limit_s, limit_s, runs=repeat)
        _check_server(limit, server.stats(reset=True))
        del csv_bodies
        out.append(limit)
        print(_line(limit), flush=True)
        for kind in FORMATS:
            make_chunks = chunk_factory(kind, inputs.paths, rows)
            # CPU seconds of this process (one thread here): what building the chunks costs,
            # whatever else the machine is doing at the time.
            cpu_s, _ = best_time(lambda mc=make_chunks: sum(1 for _ in mc()), repeat, time.process_time)
            server.stats(reset=True)
            seconds, staged = best_time(lambda mc=make_chunks: run_provider(hook, mc), repeat)
            row = Row(link, kind, staged.rows, staged.chunks, staged.bytes, seconds, limit_s, cpu_s, runs=repeat)
            _check_server(row, server.stats(reset=True))
            out.append(row)
            print(_line(row), flush=True)
        # The peer: pyeloqua's single JSON POST, beside the limit and the provider at its size.
        peer_n = len(peer_rows)
        peer_csv = sum(map(len, peer_bodies))
        server.stats(reset=True)
        peer_limit_s, _ = best_time(lambda: run_limit(session, server.data_url, peer_bodies, CSV_CONTENT_TYPE), repeat)
        peer_limit = Row(
            link, "limit@peer", peer_n, len(peer_bodies), peer_csv, peer_limit_s, peer_limit_s, runs=repeat
        )
        _check_server(peer_limit, server.stats(reset=True))
        out.append(peer_limit)
        print(_line(peer_limit), flush=True)
        make_chunks = chunk_factory("json-rows", inputs.paths, peer_rows)
        seconds, staged = best_time(lambda: run_provider(hook, make_chunks), repeat)
        prov = Row(link, "json-rows@peer", staged.rows, staged.chunks, staged.bytes, seconds, peer_limit_s, runs=repeat)
        _check_server(prov, server.stats(reset=True))
        out.append(prov)
        print(_line(prov), flush=True)
        if pyeloqua_version():
            seconds, _ = best_time(lambda: run_pyeloqua(server.url, peer_rows), repeat)
            stats = server.stats(reset=True)
            wire = json.dumps(peer_rows, ensure_ascii=False).encode("utf-8")
            peer = Row(link, "pyeloqua", peer_n, 1, len(wire), seconds, peer_limit_s, runs=repeat)
            _check_server(peer, stats)
            out.append(peer)
            print(_line(peer), flush=True)
    return out


def run(
    n: int = DEFAULT_ROWS,
    links: tuple[tuple[float, float], ...] = DEFAULT_LINKS,
    repeat: int = 3,
    peer_n: int = DEFAULT_PEER_ROWS,
    rss_rows: tuple[int, ...] = DEFAULT_RSS_ROWS,
) -> list[Row]:
    results: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="eloqua-bench-") as tmp:
        inputs = write_inputs(Path(tmp), n)
        rows = list(contact_rows(n))
        peer_rows = rows[:peer_n]
        peer_dir = Path(tmp) / "peer"
        peer_dir.mkdir()
        peer_inputs = write_inputs(peer_dir, peer_n)
        peer_bodies = limit_bodies(peer_inputs.paths["csv"])
        for link in links:
            results += run_link(link, inputs, rows, peer_rows, peer_bodies, repeat)
        del rows, peer_rows, peer_bodies
        if rss_rows:
            for size in rss_rows:
                if size != n:
                    write_inputs(Path(tmp), size)
            with LinkServer(*links[-1]) as server:
                for row in results:
                    if row.link == links[-1] and row.path in FORMATS:
                        for size in rss_rows:
                            row.rss[size] = measure_rss(row.path, size, Path(tmp), server.port)
                        print(
                            f"  peak RSS {row.path}: "
                            + ", ".join(f"{s:,} rows {r['peak_mb']:.0f} MiB" for s, r in row.rss.items()),
                            flush=True,
                        )
    return results


def _link(link: tuple[float, float]) -> str:
    return f"{link[0]:g} MB/s {link[1]:g} ms"


def _line(r: Row) -> str:
    cpu = f"{r.cpu_seconds:>6.2f}" if r.cpu_seconds is not None else f"{'':>6}"
    return (
        f"{_link(r.link):<16} {r.path:<15} {r.rows:>9,} {r.posts:>5} {r.wire_bytes / 1e6:>8.1f} {r.seconds:>7.2f} "
        f"{r.wire_bytes / 1e6 / r.seconds:>7.1f} {r.ratio:>6.2f} {cpu}"
    )


def target_for(link: tuple[float, float], path: str) -> float | None:
    targets = TARGETS.get(link[0])
    if targets is None or path not in FORMATS:
        return None
    return targets.get(path, targets["*"])


def report(results: list[Row]) -> str:
    head = f"{'link':<16} {'path':<15} {'rows':>9} {'POSTs':>5} {'wire MB':>8} {'time s':>7} {'MB/s':>7} {'ratio':>6} {'cpu s':>6}"
    lines = [head, "-" * len(head)]
    for r in results:
        target = target_for(r.link, r.path)
        mark = "" if target is None else f"  (target >= {target:.2f}: {'met' if r.ratio >= target else 'NOT MET'})"
        lines.append(_line(r) + mark)
    lines += [
        "",
        "ratio = limit time / path time; limit = the rows as pre-built CSV chunks POSTed by requests.Session",
        "(limit@peer for the peer rows). cpu s = CPU time of building the chunks alone, no HTTP. MB = 10^6 bytes.",
        f"load average (1 min) at the end of the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
    ]
    with_rss = [r for r in results if r.rss]
    if with_rss:
        sizes = sorted(with_rss[0].rss)
        lines += ["", f"peak RSS (VmHWM, MiB, a fresh process each, link {_link(with_rss[0].link)}):"]
        for r in with_rss:
            small, big = r.rss[sizes[0]], r.rss[sizes[-1]]
            x = big["peak_mb"] / small["peak_mb"]
            grow = f"Δ during upload {small['peak_mb'] - small['before_mb']:.0f} -> {big['peak_mb'] - big['before_mb']:.0f}"
            note = ""
            if r.path == "json-rows":
                # The caller's list of 1M dicts is the input itself (about 330 MB), there before
                # the upload starts: judge the upload by its own growth on the same base.
                x = (big["peak_mb"] - big["before_mb"] + small["before_mb"]) / small["peak_mb"]
                note = f" without the caller's list of rows (the peak with it: {big['peak_mb']:.0f})"
            verdict = "met" if x <= RSS_TARGET else "NOT MET"
            lines.append(
                f"  {r.path:<10} {sizes[0]:>9,} rows {small['peak_mb']:>5.0f}  {sizes[-1]:>9,} rows {big['peak_mb']:>5.0f}  "
                f"{x:.2f}x (target <= {RSS_TARGET}x: {verdict}){note}; {grow}; {big['chunks']} chunk(s)"
            )
    if not any(r.path == "pyeloqua" for r in results):
        lines += ["", "pyeloqua: not installed in this environment (pip install -e '.[bench]')"]
    return "\n".join(lines)


def _links(text: str) -> tuple[tuple[float, float], ...]:
    out = []
    for part in text.split(","):
        rate, _, rtt = part.strip().partition(":")
        out.append((float(rate), float(rtt or 0)))
    return tuple(out)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help=f"rows per input (default {DEFAULT_ROWS:,})")
    parser.add_argument("--links", default=None, help="comma-separated RATE_MBps:RTT_ms (default 25:40,100:40)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per path; the best counts (default 3)")
    parser.add_argument(
        "--peer-rows", type=int, default=None, help=f"rows for the pyeloqua peer (default {DEFAULT_PEER_ROWS:,})"
    )
    parser.add_argument(
        "--rss-rows", default=None, help="comma-separated row counts for peak RSS (default 10000,1000000)"
    )
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny rows on a fast link, one run each: checks the harness"
    )
    parser.add_argument("--rss-child", nargs=4, metavar=("KIND", "N", "DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        kind, n, directory, port = args.rss_child
        print(json.dumps(rss_child(kind, int(n), directory, int(port))))
        return []
    base = (
        SMOKE
        if args.smoke
        else {
            "rows": DEFAULT_ROWS,
            "peer_rows": DEFAULT_PEER_ROWS,
            "rss_rows": DEFAULT_RSS_ROWS,
            "links": DEFAULT_LINKS,
            "repeat": 3,
        }
    )
    n = args.rows or base["rows"]
    rss_rows = tuple(int(s) for s in args.rss_rows.split(",")) if args.rss_rows else base["rss_rows"]
    results = run(
        n=n,
        links=_links(args.links) if args.links else base["links"],
        repeat=args.repeat or base["repeat"],
        peer_n=min(args.peer_rows or base["peer_rows"], n),
        rss_rows=() if args.no_rss else rss_rows,
    )
    print()
    print(report(results))
    return results


if __name__ == "__main__":
    main()
