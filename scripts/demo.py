"""`make demo`: both directions of data against the bundled emulator, through real DAG runs.

First the contacts import example loads 25 contacts; then, with five more contacts on the site whose
country is written in lower case, the round-trip example exports every contact to a CSV file,
upper-cases those countries and imports them back. It prints each sync's report, the export's file
and what the site holds at the end.

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
IMPORT_DAG = "eloqua_contacts_import"
ROUND_TRIP_DAG = "eloqua_export_round_trip"
RUN_SECONDS = 300
#: Contacts already on the site before the round trip, their countries not in upper case.
SITE_CONTACTS = [
    {"{{Contact.Field(C_EmailAddress)}}": f"member{n}@example.org", "{{Contact.Field(C_Country)}}": country}
    for n, country in enumerate(["canada", "France", "japan", "Brazil", "kenya"], start=1)
]


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


def run_dag(airflow: str, dag_id: str, env: dict[str, str], home: str) -> bool:
    """``airflow dags test`` (bounded: it runs triggers inline and ignores defer timeouts); prints its reports."""
    run = subprocess.run(
        ["timeout", "-s", "KILL", str(RUN_SECONDS), airflow, "dags", "test", dag_id],
        env=env,
        capture_output=True,
        text=True,
    )
    output = run.stdout + run.stderr
    (Path(home) / f"{dag_id}.log").write_text(output)
    print(f"\n`airflow dags test {dag_id}` exited {run.returncode}")
    for line in sync_report_lines(output):
        print("  " + line.rstrip())
    if run.returncode != 0:
        print("\nThe DAG run failed; its full output follows.\n")
        print(output[-20000:])
    return run.returncode == 0


def print_export(home: str) -> None:
    """The round trip's exported file: its path, its row count and its first rows."""
    for path in sorted((Path(home) / "output" / "round_trip").glob("*/contacts.csv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        print(f"\nExported {len(lines) - 1} contacts to {path}; its first lines:")
        for line in lines[:4]:
            print("  " + line)


def main() -> int:
    bin_dir = Path(sys.executable).parent
    airflow = str(bin_dir / "airflow")
    with tempfile.TemporaryDirectory(prefix="eloqua-demo-") as home, EmulatorServer() as emulator:
        env = airflow_env(home, emulator.url)
        print(f"Eloqua emulator on {emulator.url}; AIRFLOW_HOME={home}", flush=True)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        if not run_dag(airflow, IMPORT_DAG, env, home):
            return 1
        emulator.control.seed("/contacts", SITE_CONTACTS)
        if not run_dag(airflow, ROUND_TRIP_DAG, env, home):
            return 1
        print_export(home)
        state = emulator.control.state()
        country = SITE_CONTACTS[0].keys() - {"{{Contact.Field(C_EmailAddress)}}"}
        countries = sorted(str(r[c]) for r in emulator.control.records("/contacts") for c in country if r.get(c))
        print("\nWhat the emulated Eloqua site now holds:")
        print(json.dumps({"syncs": state.get("syncs"), "records": state.get("records")}, indent=2, default=str))
        print(f"Countries on the site: {', '.join(countries)}")
        print("\nDemo finished: contacts imported, exported, cleaned and imported back by real Airflow DAG runs.")
        return 0


if __name__ == "__main__":
    sys.exit(main())
