"""Upload-path benchmarks: the provider against the loopback limit (issue 5).

    python -m benchmarks.run [--sizes 10000,100000,1000000] [--smoke] [--chunk-bytes N]

For each size N it generates N contact rows (Email, FirstName, LastName, Company, Country) once
into a temp dir, as a CSV file and a JSON array file, and as an in-memory list of dicts (the
"JSON rows" an upstream task hands over through XCom). A discard HTTP server runs in its own
process (``benchmarks/discard_server.py``). Then, in one run:

* limit: a ``requests.Session`` POSTs the very chunk bodies the provider would send, pre-built
  in memory, to the discard server. Nothing can upload faster through ``requests``.
* provider: ``staging.stage_input`` with an ``EloquaHook`` (basic auth, host override pointing
  at the discard server) and the same chunk factory as the operators: the CSV file, the JSON
  rows list and the JSON file (streamed). Throughput and the provider/limit ratio.
* chunk only: the chunking and validation alone (no HTTP), to show where the time goes.
* peak RSS of each provider path, in a fresh subprocess per (size, format), so peaks don't mix:
  ``VmHWM`` at the end, and its growth during the upload (``Δ``: peak minus the peak
  before the upload began, i.e. after the imports and, for JSON rows, after building the list).

Times are the best of several runs. MB = 10^6 bytes. Targets (checked at every size):
CSV >= 0.9x the limit, JSON rows >= 0.7x, peak RSS at the largest size <= 1.5x the smallest.
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
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SMOKE_SIZES = (1_000,)
PROVIDER_FORMATS = ("csv", "json-rows", "json-file")
TARGETS = {"csv": 0.9, "json-rows": 0.7}
RSS_TARGET = 1.5

_FIRST = ["Anna", "Jörg", "Zoë", "Li", "Mark", "Sofía", "Ólafur", "Chloé", "Ivan", "Amélie", "Tom", "Ines"]
_LAST = ["Müller", "Smith", "García", "Nguyen", "O'Brien", "Kowalski", "Dubois", "Rossi", "Søndergaard"]
_COUNTRY = ["DE", "US", "FR", "GB", "ES", "NL", "SE", "JP", "BR", "IN"]


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------


def contact_rows(n: int) -> Iterator[dict[str, Any]]:
    """N deterministic contact rows; some names are non-ASCII, some companies need CSV quoting."""
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
    csv_path: Path
    json_path: Path
    csv_bytes: int
    json_bytes: int
    csv_header: bytes


def write_inputs(directory: Path, n: int) -> Inputs:
    csv_path = directory / f"contacts-{n}.csv"
    json_path = directory / f"contacts-{n}.json"
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(FIELDS)
        writer.writerows([r[k] for k in FIELDS] for r in contact_rows(n))
    with open(json_path, "w", encoding="utf-8") as f:
        f.write("[\n")
        for i, row in enumerate(contact_rows(n)):
            f.write(("," if i else "") + json.dumps(row, ensure_ascii=False) + "\n")
        f.write("]\n")
    header = (",".join(FIELDS) + "\n").encode()
    return Inputs(n, csv_path, json_path, csv_path.stat().st_size, json_path.stat().st_size, header)


# ------------------------------------------------------------------------------------------------
# discard server, hook and the measured paths
# ------------------------------------------------------------------------------------------------


class DiscardServer:
    """``benchmarks/discard_server.py`` in a subprocess; ``url`` is its root."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> DiscardServer:
        script = Path(__file__).with_name("discard_server.py")
        self.proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc.stdout.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self, reset: bool = False) -> dict[str, int]:
        import requests

        return requests.get(self.url + ("/_stats/reset" if reset else "/_stats"), timeout=10).json()


def make_hook(port: int) -> Any:
    """An EloquaHook on an ``eloqua`` connection whose host is the discard server (no discovery)."""
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {
            "conn_type": "eloqua",
            "host": f"http://127.0.0.1:{port}",
            "login": "Bench.User",
            "password": "bench-password",
            "extra": {"site": "BenchSite", "timeout": 120},
        }
    )
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook

    # One "Staged chunk" INFO line per POST is real work but would bury the table.
    logging.getLogger("airflow_provider_eloqua").setLevel(logging.WARNING)
    return EloquaHook(CONN_ID)


def chunk_factory(kind: str, inputs: Inputs, rows: list[dict] | None, chunk_bytes: int) -> Callable[[], Iterator]:
    """The chunks the operators would build for this input (the same calls as ``_chunk_factory``)."""
    from airflow_provider_eloqua.chunking import iter_file_chunks, iter_json_chunks
    from airflow_provider_eloqua.storage import open_path

    if kind == "json-rows":
        return lambda: iter_json_chunks(rows, FIELDS, IDENTIFIER, chunk_bytes)
    path, fmt = (inputs.csv_path, "csv") if kind == "csv" else (inputs.json_path, "json")

    def from_file() -> Iterator:
        with open_path(str(path), "rb") as stream:
            yield from iter_file_chunks(stream, fmt, FIELDS, IDENTIFIER, chunk_bytes)

    return from_file


def run_provider(hook: Any, make_chunks: Callable[[], Iterator]) -> Any:
    from airflow_provider_eloqua.staging import stage_input

    return stage_input(hook, DEFINITION_URI, make_chunks)


def run_limit(session: Any, url: str, bodies: list[bytes], content_type: str) -> None:
    for body in bodies:
        response = session.post(url, data=body, headers={"Content-Type": content_type})
        if response.status_code != 204:
            raise RuntimeError(f"discard server answered {response.status_code}")


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


# ------------------------------------------------------------------------------------------------
# peak RSS in a fresh process
# ------------------------------------------------------------------------------------------------


def _maxrss_mb() -> float:
    """Peak RSS of this process in MiB.

    Linux ``VmHWM`` belongs to the process image, so it starts afresh at ``exec``; ``ru_maxrss``
    does not (a child started by a big parent would report the parent's peak), so it is only
    the fallback.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; macOS: bytes


def rss_child(kind: str, n: int, directory: str, port: int, chunk_bytes: int) -> dict[str, Any]:
    """Run one provider upload in this (fresh) process; report rows, bytes and peak RSS."""
    d = Path(directory)
    csv_path, json_path = d / f"contacts-{n}.csv", d / f"contacts-{n}.json"
    inputs = Inputs(n, csv_path, json_path, csv_path.stat().st_size, json_path.stat().st_size, b"")
    hook = make_hook(port)
    hook.session  # noqa: B018 - build the session (and import requests' adapters) before measuring
    rows = list(contact_rows(n)) if kind == "json-rows" else None
    before = _maxrss_mb()
    result = run_provider(hook, chunk_factory(kind, inputs, rows, chunk_bytes))
    peak = _maxrss_mb()
    return {"rows": result.rows, "bytes": result.bytes, "chunks": result.chunks, "before_mb": before, "peak_mb": peak}


def measure_rss(kind: str, n: int, directory: Path, port: int, chunk_bytes: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.run", "--rss-child", kind, str(n), str(directory), str(port)]
    cmd += ["--chunk-bytes", str(chunk_bytes)]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"RSS child {kind} {n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------
# the run
# ------------------------------------------------------------------------------------------------


@dataclass
class Row:
    size: int
    path: str  # "csv", "json-rows", "json-file"
    rows: int
    body_bytes: int
    chunks: int
    limit_s: float
    provider_s: float
    chunk_only_s: float
    runs: int = 1
    server_requests: int = 0  # requests the discard server counted over the ``runs`` provider runs
    server_bytes: int = 0  # body bytes it counted over those runs
    input_bytes: int = 0
    rss: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.limit_s / self.provider_s


def _repeats(n: int, smoke: bool) -> int:
    if smoke:
        return 1
    return 5 if n >= 1_000_000 else 7 if n >= 100_000 else 15


def run(sizes: list[int], smoke: bool = False, chunk_bytes: int | None = None, rss: bool = True) -> list[Row]:
    import requests

    from airflow_provider_eloqua.chunking import CSV_CONTENT_TYPE, DEFAULT_CHUNK_BYTES, JSON_CONTENT_TYPE

    chunk_bytes = chunk_bytes or DEFAULT_CHUNK_BYTES
    results: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="eloqua-bench-") as tmp, DiscardServer() as server:
        hook = make_hook(server.port)
        session = requests.Session()
        url = f"{server.url}/api/bulk/2.0{DEFINITION_URI}/data"
        for n in sizes:
            inputs = write_inputs(Path(tmp), n)
            rows = list(contact_rows(n))
            repeat = _repeats(n, smoke)
            for kind in PROVIDER_FORMATS:
                make_chunks = chunk_factory(kind, inputs, rows, chunk_bytes)
                content_type = CSV_CONTENT_TYPE if kind == "csv" else JSON_CONTENT_TYPE
                bodies = [c.body for c in make_chunks()]
                run_limit(session, url, bodies, content_type)  # warm the connection
                # The limit is cheap and noisy: take the best of more runs.
                limit_s, _ = best_time(lambda b=bodies, ct=content_type: run_limit(session, url, b, ct), 3 * repeat)
                del bodies
                chunk_s, _ = best_time(lambda mc=make_chunks: sum(1 for _ in mc()), repeat)
                server.stats(reset=True)
                provider_s, staged = best_time(lambda mc=make_chunks: run_provider(hook, mc), repeat)
                stats = server.stats(reset=True)
                input_bytes = inputs.csv_bytes if kind == "csv" else inputs.json_bytes
                row = Row(n, kind, staged.rows, staged.bytes, staged.chunks, limit_s, provider_s, chunk_s)
                row.runs, row.input_bytes = repeat, input_bytes
                row.server_requests, row.server_bytes = stats["requests"], stats["body_bytes"]
                results.append(row)
                print(_line(row), flush=True)
            del rows
            if rss:
                for row in results[-len(PROVIDER_FORMATS) :]:
                    row.rss = measure_rss(row.path, n, Path(tmp), server.port, chunk_bytes)
                    print(f"  peak RSS {row.path} {n}: {row.rss['peak_mb']:.0f} MB", flush=True)
    return results


def _line(r: Row) -> str:
    mb = r.body_bytes / 1e6
    return (
        f"{r.size:>9,} {r.path:<9} {r.chunks:>3} {mb:>8.1f} {r.provider_s:>8.3f} {r.rows / r.provider_s:>11,.0f} "
        f"{mb / r.provider_s:>8.1f} {mb / r.limit_s:>8.1f} {r.ratio:>6.2f} {mb / r.chunk_only_s:>8.1f}"
    )


def report(results: list[Row]) -> str:
    head = (
        f"{'rows':>9} {'path':<9} {'chk':>3} {'MB sent':>8} {'time s':>8} {'rows/s':>11} "
        f"{'MB/s':>8} {'limitMB/s':>8} {'ratio':>6} {'chunkMB/s':>8} {'peakRSS':>8} {'ΔRSS':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        rss = f"{r.rss['peak_mb']:>8.0f} {r.rss['peak_mb'] - r.rss['before_mb']:>6.0f}" if r.rss else ""
        lines.append(f"{_line(r)} {rss}")
    lines.append("")
    lines.append("ratio = provider throughput / limit throughput (same bodies, pre-built, requests.Session.post).")
    lines.append("chunkMB/s = chunking + validation alone, no HTTP. peakRSS = VmHWM of a fresh process (MiB);")
    lines.append("ΔRSS = growth of that peak during the upload. MB = 10^6 bytes.")
    lines.append("")
    for kind, target in TARGETS.items():
        got = [f"{r.size:,}: {r.ratio:.2f}" for r in results if r.path == kind]
        ok = all(r.ratio >= target for r in results if r.path == kind)
        lines.append(f"target {kind} >= {target}x limit: {'MET' if ok else 'NOT MET'} ({'; '.join(got)})")
    sizes = sorted({r.size for r in results})
    if len(sizes) > 1 and all(r.rss for r in results):
        for kind in PROVIDER_FORMATS:
            small = next(r for r in results if r.path == kind and r.size == sizes[0]).rss
            big = next(r for r in results if r.path == kind and r.size == sizes[-1]).rss
            verdict = "MET" if big["peak_mb"] <= RSS_TARGET * small["peak_mb"] else "NOT MET"
            note = " (the peak includes the input list itself; see ΔRSS)" if kind == "json-rows" else ""
            lines.append(
                f"target peak RSS {kind} at {sizes[-1]:,} <= {RSS_TARGET}x at {sizes[0]:,}: {verdict} "
                f"({big['peak_mb']:.0f} MB / {small['peak_mb']:.0f} MB = {big['peak_mb'] / small['peak_mb']:.2f}x; "
                f"ΔRSS {big['peak_mb'] - big['before_mb']:.0f} MB vs {small['peak_mb'] - small['before_mb']:.0f} MB)"
                f"{note}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=None, help="comma-separated row counts (default 10000,100000,1000000)")
    parser.add_argument("--smoke", action="store_true", help="1,000 rows, one run each: checks the harness")
    parser.add_argument("--chunk-bytes", type=int, default=None, help="chunk size (default: the provider's)")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")
    parser.add_argument("--rss-child", nargs=4, metavar=("KIND", "N", "DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        kind, n, directory, port = args.rss_child
        from airflow_provider_eloqua.chunking import DEFAULT_CHUNK_BYTES

        out = rss_child(kind, int(n), directory, int(port), args.chunk_bytes or DEFAULT_CHUNK_BYTES)
        print(json.dumps(out))
        return []
    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    else:
        sizes = list(SMOKE_SIZES if args.smoke else DEFAULT_SIZES)
    results = run(sizes, smoke=args.smoke, chunk_bytes=args.chunk_bytes, rss=not args.no_rss)
    print()
    print(report(results))
    return results


if __name__ == "__main__":
    main()
