"""A thousand waiting syncs in one event loop: what N ``EloquaSyncTrigger``s cost the triggerer.

N triggers run in one asyncio loop, as the triggerer runs them, each waiting for its own sync,
which ends at its third look, against ``benchmarks/trigger_server.py`` (a loopback stand-in for
Eloqua in its own process that counts requests and TCP connections). Each scenario runs in a
fresh process so its RSS is its own. Reported per scenario: wall time against the ideal
(polls x poll interval), RSS added per trigger (peak during the wait minus the level before
the triggers were made, over N), ``/id`` and token requests, TCP connections, status requests
per poll per trigger, and the event loop's longest block, measured by a heartbeat task that
sleeps 5 ms at a time and records how late it wakes up.

    python -m benchmarks.triggers [--smoke] [--scenarios 50:1:basic,1000:5:refresh-401]

A scenario is ``N:poll_seconds:auth`` with auth ``basic``, ``oauth2`` (password grant),
``refresh`` (refresh-token grant, rotated token kept in a token-store Variable) or ``refresh-401``
(the same, with every access token expired once after the first round of polls).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import trigger_server as srv

POLLS = 3
CONN_ID = "eloqua_trigger_bench"
STORE = "eloqua_trigger_bench_refresh"
DEFAULT_SCENARIOS = (
    "50:1:basic,500:2:basic,1000:5:basic,"
    "50:1:oauth2,500:2:oauth2,1000:5:oauth2,"
    "500:2:refresh,1000:5:refresh,1000:5:refresh-401"
)
SMOKE_SCENARIOS = "20:0.2:basic,20:0.2:oauth2,20:0.2:refresh-401"
AUTHS = ("basic", "oauth2", "refresh", "refresh-401")
#: Targets from issue 12.
TARGET_RSS_KB = 64
TARGET_WALL_RATIO = 1.2
TARGET_LOOP_BLOCK_S = 0.1


@dataclass
class Result:
    n: int
    poll: float
    auth: str
    events: dict[str, int]
    wall_s: float
    ideal_s: float
    rss_before_kb: int
    rss_peak_kb: int
    rss_per_trigger_kb: float
    id_requests: int
    token_requests: int
    tokens_refused: int
    connections: int
    status_requests: int
    status_401: int
    status_per_poll: float
    loop_block_s: float
    #: The longest block after every trigger's first look (the start's burst excluded).
    loop_block_steady_s: float
    #: The most CPU time the process used between two heartbeats: the loop's longest block as our
    #: code causes it, without the time a loaded machine did not run the process at all.
    loop_block_cpu_s: float
    #: The longest full (generation 2) garbage collection of the process's heap during the run.
    gc_pause_s: float
    #: ``loop_block_cpu_s`` without the garbage collections inside it: what the triggers' code blocks.
    loop_block_code_s: float
    cpu_s: float
    heartbeats: int
    sessions: int

    @property
    def wall_ratio(self) -> float:
        return self.wall_s / self.ideal_s


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _control(url: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data), timeout=30) as answer:
        return json.loads(answer.read())


def _connection(url: str, auth: str) -> str:
    extra: dict[str, Any] = {"site": srv.SITE, "login_url": url}
    conn: dict[str, Any] = {"conn_type": "eloqua", "login": srv.USER, "password": srv.PASSWORD}
    if auth != "basic":
        extra |= {"auth_type": "oauth2", "client_id": srv.CLIENT_ID, "client_secret": srv.CLIENT_SECRET}
    if auth.startswith("refresh"):
        conn = {"conn_type": "eloqua"}
        extra["token_store_variable"] = STORE
    return json.dumps({**conn, "extra": extra})


# ---------------------------------------------------------------------------------------- one scenario


def run_scenario(url: str, n: int, poll: float, auth: str) -> Result:
    """Runs in its own process (``--one``): N triggers in one fresh event loop."""
    import asyncio
    import gc
    import logging

    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = _connection(url, auth)
    # The triggers' INFO lines are formatted as in the triggerer, then thrown away.
    logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))  # noqa: SIM115
    from airflow_provider_eloqua.hooks.eloqua import EloquaHook
    from airflow_provider_eloqua.hooks.session import forget_sessions, registered_sessions
    from airflow_provider_eloqua.triggers.eloqua import EloquaSyncTrigger

    if auth.startswith("refresh"):
        from airflow.models import Variable

        Variable.set(STORE, srv.SEED_REFRESH_TOKEN)

    # Instrumentation only: count answered looks, to tell the start's burst from the steady state.
    answered = [0]
    look = EloquaHook.aget_sync

    async def counted_look(self: EloquaHook, sync_uri: str, **kwargs: Any) -> dict[str, Any]:
        sync = await look(self, sync_uri, **kwargs)
        answered[0] += 1
        return sync

    EloquaHook.aget_sync = counted_look  # type: ignore[method-assign]

    def triggers(first: int, count: int, interval: float = poll) -> list[EloquaSyncTrigger]:
        end = time.time() + 3600
        return [EloquaSyncTrigger(f"/syncs/{i}", CONN_ID, interval, end) for i in range(first, first + count)]

    async def collect(trigger: EloquaSyncTrigger) -> str:
        async for event in trigger.run():
            return str(event.payload.get("sync_status") or event.payload["status"])
        return "none"

    # Warm-up in a loop of its own: imports, logging, the connection lookup path. Then a fresh
    # start: no shared session, counters at zero, the token store at the server's seed.
    asyncio.run(collect(triggers(10**6, 1, 0.01)[0]))
    forget_sessions()
    _control(url, "/__reset", {"polls": POLLS, "expire_after": n if auth == "refresh-401" else None})
    if auth.startswith("refresh"):
        Variable.set(STORE, srv.SEED_REFRESH_TOKEN)
    answered[0] = 0
    gc_pauses: list[float] = []
    gc_started = [0.0]
    gc_total = [0.0]  # CPU seconds of every collection, any generation

    def gc_timer(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = time.process_time()
            return
        took = time.process_time() - gc_started[0]
        gc_total[0] += took
        if info["generation"] == 2:
            gc_pauses.append(took)

    gc.collect()
    rss_before = _rss_kb()

    async def measured() -> tuple[list[str], float, float, int, int, int]:
        peak = rss_before
        worst = worst_steady = worst_cpu = worst_code = 0.0
        first_round_done = False
        beats = 0
        done = asyncio.Event()

        async def heartbeat() -> None:
            nonlocal peak, worst, worst_steady, worst_cpu, worst_code, beats
            step = 0.005
            while not done.is_set():
                before, cpu_before, gc_before = time.perf_counter(), time.process_time(), gc_total[0]
                await asyncio.sleep(step)
                lag = time.perf_counter() - before - step
                used = time.process_time() - cpu_before
                worst_cpu = max(worst_cpu, used)
                worst_code = max(worst_code, used - (gc_total[0] - gc_before))
                worst = max(worst, lag)
                if first_round_done:
                    worst_steady = max(worst_steady, lag)
                beats += 1
                if beats % 20 == 0:
                    peak = max(peak, _rss_kb())

        async def watch_first_round() -> None:
            nonlocal first_round_done
            while answered[0] < n and not done.is_set():  # every trigger had its first answer
                await asyncio.sleep(0.01)
            first_round_done = True

        waiting = triggers(0, n)
        beat = asyncio.create_task(heartbeat())
        rounds = asyncio.create_task(watch_first_round())
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        cpu_started = time.process_time()
        outcomes = await asyncio.gather(*(collect(t) for t in waiting))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        peak = max(peak, _rss_kb())
        done.set()
        await beat
        await rounds
        blocks = (worst, worst_steady, worst_cpu, worst_code)
        return outcomes, wall, cpu, blocks, peak, beats, len(registered_sessions())

    gc.callbacks.append(gc_timer)
    outcomes, wall, cpu, (worst, worst_steady, worst_cpu, worst_code), peak, beats, sessions = asyncio.run(measured())
    gc.callbacks.remove(gc_timer)
    stats = _control(url, "/__stats")
    if auth.startswith("refresh"):
        assert Variable.get(STORE) == stats["refresh_token"], "the token store lost the newest refresh token"
    ok_status = stats["status"] - stats["status_401"]
    return Result(
        n=n,
        poll=poll,
        auth=auth,
        events={s: outcomes.count(s) for s in sorted(set(outcomes))},
        wall_s=wall,
        ideal_s=POLLS * poll,
        rss_before_kb=rss_before,
        rss_peak_kb=peak,
        rss_per_trigger_kb=(peak - rss_before) / n,
        id_requests=stats["id"],
        token_requests=stats["token"],
        tokens_refused=stats["token_refused"],
        connections=stats["connections"] - 1,  # not the /__stats request's own
        status_requests=stats["status"],
        status_401=stats["status_401"],
        status_per_poll=ok_status / (n * POLLS),
        loop_block_s=worst,
        loop_block_steady_s=worst_steady,
        loop_block_cpu_s=worst_cpu,
        gc_pause_s=max(gc_pauses, default=0.0),
        loop_block_code_s=worst_code,
        cpu_s=cpu,
        heartbeats=beats,
        sessions=sessions,
    )


# ---------------------------------------------------------------------------------------- driver


def _scenarios(text: str) -> list[tuple[int, float, str]]:
    out = []
    for item in text.split(","):
        n, poll, auth = item.strip().split(":")
        if auth not in AUTHS:
            raise SystemExit(f"--scenarios: auth must be one of {', '.join(AUTHS)}; got {auth!r}")
        out.append((int(n), float(poll), auth))
    return out


def _ensure_airflow_db() -> None:
    """The token-store scenarios keep a Variable: give a bare run its own throwaway metadata DB."""
    if os.environ.get("ELOQUA_BENCH_DB_READY"):
        return
    home = tempfile.mkdtemp(prefix="eloqua-trigger-bench-")
    os.environ.update(AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False")
    subprocess.run(
        [sys.executable, "-c", "from airflow.utils import db; db.initdb()"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ["ELOQUA_BENCH_DB_READY"] = "1"


def run(scenarios: list[tuple[int, float, str]]) -> list[Result]:
    """Each scenario in a fresh process, against one counting server (reset per scenario)."""
    if any(auth.startswith("refresh") for _, _, auth in scenarios):
        _ensure_airflow_db()
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.trigger_server", "--polls", str(POLLS)],
        stdin=subprocess.PIPE,  # closed when this process ends, however it ends: the server exits
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}"
        results = []
        for n, poll, auth in scenarios:
            spec = json.dumps({"url": url, "n": n, "poll": poll, "auth": auth})
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.triggers", "--one", spec],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=Path(__file__).resolve().parent.parent,
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode or not lines:
                raise RuntimeError(f"scenario {n}:{poll}:{auth} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
            results.append(Result(**json.loads(lines[-1][len("RESULT ") :])))
        return results
    finally:
        server.terminate()
        server.wait(10)


def report(results: list[Result]) -> str:
    head = (
        f"{'N':>5} {'poll':>5} {'auth':<11} {'wall s':>7} {'ideal':>6} {'ratio':>6} {'KB/trig':>8} "
        f"{'/id':>4} {'token':>5} {'TCP':>4} {'st/poll':>7} {'401s':>5} {'block s':>8} {'steady':>6} {'cpu':>6} {'GC':>6} {'code':>6} {'CPU ms/poll':>11} {'CPU/ideal':>9} outcome"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        outcome = ", ".join(f"{k} {v}" for k, v in r.events.items())
        lines.append(
            f"{r.n:>5,} {r.poll:>5g} {r.auth:<11} {r.wall_s:>7.2f} {r.ideal_s:>6.1f} {r.wall_ratio:>6.2f} "
            f"{r.rss_per_trigger_kb:>8.1f} {r.id_requests:>4} {r.token_requests:>5} {r.connections:>4} "
            f"{r.status_per_poll:>7.3f} {r.status_401:>5} {r.loop_block_s:>8.3f} {r.loop_block_steady_s:>6.3f} "
            f"{r.loop_block_cpu_s:>6.3f} {r.gc_pause_s:>6.3f} {r.loop_block_code_s:>6.3f} {1000 * r.cpu_s / (r.n * POLLS):>11.2f} {r.cpu_s / r.ideal_s:>9.2f} {outcome}"
        )
    lines.append("")
    lines += targets(results)
    return "\n".join(lines)


def targets(results: list[Result]) -> list[str]:
    def verdict(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    out = []
    big = [r for r in results if r.n >= 1000] or results
    worst_rss = max(big, key=lambda r: r.rss_per_trigger_kb)
    out.append(
        f"target RSS <= {TARGET_RSS_KB} KB per trigger at N={big[0].n:,}: "
        f"{verdict(worst_rss.rss_per_trigger_kb <= TARGET_RSS_KB)} (worst {worst_rss.rss_per_trigger_kb:.1f} KB, {worst_rss.auth})"
    )
    renewals = {r.auth: r for r in results}
    one_each = all(
        r.id_requests == (2 if r.auth == "refresh-401" else 1)
        and r.token_requests == {"basic": 0, "refresh-401": 2}.get(r.auth, 1)
        for r in results
    )
    out.append(
        "target one discovery and one grant per connection per process (one more of each after a 401): "
        f"{verdict(one_each)} (auths: {', '.join(renewals)})"
    )
    out.append(
        f"target TCP connections bounded by the pool: {verdict(all(r.connections <= _pool() for r in results))} "
        f"(pool {_pool()}; most {max(r.connections for r in results)})"
    )
    worst_wall = max(results, key=lambda r: r.wall_ratio)
    out.append(
        f"target wall <= {TARGET_WALL_RATIO}x ideal: {verdict(worst_wall.wall_ratio <= TARGET_WALL_RATIO)} "
        f"(worst {worst_wall.wall_ratio:.2f}x at {worst_wall.n:,}:{worst_wall.poll:g}:{worst_wall.auth})"
    )
    exact = all(r.status_per_poll == 1.0 for r in results)
    out.append(f"target one status request per poll per trigger: {verdict(exact)}")
    worst_block = max(results, key=lambda r: r.loop_block_s)
    out.append(
        f"target loop never blocked > {TARGET_LOOP_BLOCK_S} s: {verdict(worst_block.loop_block_s <= TARGET_LOOP_BLOCK_S)} "
        f"(longest {worst_block.loop_block_s:.3f} s at {worst_block.n:,}:{worst_block.poll:g}:{worst_block.auth})"
    )
    by_cpu = max(results, key=lambda r: r.loop_block_cpu_s)
    out.append(
        f"  counting only CPU time the process used (what the code blocks, not the machine's load): "
        f"{verdict(by_cpu.loop_block_cpu_s <= TARGET_LOOP_BLOCK_S)} "
        f"(longest {by_cpu.loop_block_cpu_s:.3f} s at {by_cpu.n:,}:{by_cpu.poll:g}:{by_cpu.auth})"
    )
    by_code = max(results, key=lambda r: r.loop_block_code_s)
    out.append(
        f"  counting only the triggers' code (CPU time less garbage collection): "
        f"{verdict(by_code.loop_block_code_s <= TARGET_LOOP_BLOCK_S)} "
        f"(longest {by_code.loop_block_code_s:.3f} s at {by_code.n:,}:{by_code.poll:g}:{by_code.auth}; "
        f"longest full GC {max(r.gc_pause_s for r in results):.3f} s)"
    )
    steady = max(results, key=lambda r: r.loop_block_steady_s)
    out.append(
        f"  after the start (every trigger's first look done): "
        f"{verdict(steady.loop_block_steady_s <= TARGET_LOOP_BLOCK_S)} "
        f"(longest {steady.loop_block_steady_s:.3f} s at {steady.n:,}:{steady.poll:g}:{steady.auth})"
    )
    return out


def _pool() -> int:
    from airflow_provider_eloqua.hooks.session import POOL_CONNECTIONS

    return POOL_CONNECTIONS


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=None, help="N:poll_seconds:auth,... (default: the full table)")
    parser.add_argument("--smoke", action="store_true", help=f"small and quick: {SMOKE_SCENARIOS}")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        spec = json.loads(args.one)
        result = run_scenario(spec["url"], spec["n"], spec["poll"], spec["auth"])
        print("RESULT " + json.dumps(asdict(result)), flush=True)
        return [result]
    scenarios = _scenarios(args.scenarios or (SMOKE_SCENARIOS if args.smoke else DEFAULT_SCENARIOS))
    results = run(scenarios)
    print(report(results))
    return results


if __name__ == "__main__":
    main()
