"""`make demo`: run the contacts example DAG end to end against the bundled emulator and print the result.

Everything is throwaway: a temp AIRFLOW_HOME with a SQLite metadata DB, an emulator on a free
loopback port, and a connection given through AIRFLOW_CONN_ELOQUA_DEFAULT. The hook discovers
the emulator's "pod" through /id exactly as it would discover a real Eloqua site's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from airflow_provider_eloqua.emulator import EmulatorServer, airflow_connection_json

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "eloqua_contacts_import"
RUN_SECONDS = 300


def airflow_env(home: str, emulator_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=home,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        ELOQUA_EXAMPLE_OUTPUT_DIR=os.path.join(home, "output"),
        ELOQUA_EXAMPLE_POLL_SECONDS="1",
        AIRFLOW_CONN_ELOQUA_DEFAULT=airflow_connection_json(emulator_url),
    )
    return env


def sync_report_lines(output: str) -> list[str]:
    """The sensor's report from the task log: the 'sync ended' line, its log table and the summary."""
    lines = output.splitlines()
    picked: list[str] = []
    for index, line in enumerate(lines):
        if "ended with status" in line:
            picked.append(line[line.index("Eloqua sync") :])
            picked += [row.split(" [airflow")[0] for row in lines[index + 1 : index + 20] if row.startswith("  ELQ-")]
        elif "Eloqua sync summary:" in line:
            picked.append("XCom summary: " + line[line.index("{") : line.rindex("}") + 1])
    return picked


def main() -> int:
    bin_dir = Path(sys.executable).parent
    airflow = str(bin_dir / "airflow")
    with tempfile.TemporaryDirectory(prefix="eloqua-demo-") as home, EmulatorServer() as emulator:
        env = airflow_env(home, emulator.url)
        print(f"Eloqua emulator on {emulator.url}; AIRFLOW_HOME={home}", flush=True)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        run = subprocess.run(
            ["timeout", "-s", "KILL", str(RUN_SECONDS), airflow, "dags", "test", DAG_ID],
            env=env,
            capture_output=True,
            text=True,
        )
        log_path = Path(home) / "dags-test.log"
        log_path.write_text(run.stdout + run.stderr)
        summary_lines = sync_report_lines(run.stdout + run.stderr)
        state = emulator.control.state()
        print(f"\n`airflow dags test {DAG_ID}` exited {run.returncode}")
        for line in summary_lines:
            print("  " + line.rstrip())
        print("\nWhat the emulated Eloqua site now holds:")
        print(json.dumps({"syncs": state.get("syncs"), "records": state.get("records")}, indent=2, default=str))
        if run.returncode != 0:
            print("\nThe DAG run failed; its full output follows.\n")
            print((run.stdout + run.stderr)[-20000:])
            return 1
        print("\nDemo finished: contacts created in the emulator by a real Airflow DAG run.")
        return 0


if __name__ == "__main__":
    sys.exit(main())
