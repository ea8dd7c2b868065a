"""A throwaway PostgreSQL server for the deployment test: Debian's ``postgresql``, a cluster in a temp
dir, listening on loopback only.

CI runs as root on a machine that may have nothing installed, so a missing server is installed
with apt-get (root only; anyone else gets an error saying what to install). PostgreSQL refuses to
run as root: as root the cluster belongs to the ``postgres`` system user the package creates.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
DB_NAME = "airflow"
DB_USER = "airflow"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def apt_install(*packages: str, timeout: float = 900) -> None:
    """``apt-get install`` (root only): CI's machine may have none of the Debian packages we need."""
    if os.geteuid() != 0:
        raise RuntimeError(f"{' '.join(packages)} missing: install with `sudo apt-get install {' '.join(packages)}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # One apt-get at a time: two test workers may both find PostgreSQL missing, and dpkg takes one.
    with open(os.path.join(tempfile.gettempdir(), "eloqua-tests-apt.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=timeout, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            env=env,
            check=True,
            timeout=timeout,
            capture_output=True,
        )


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin dir (installing Debian's ``postgresql`` if none is)."""
    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        apt_install("postgresql")
        found = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError(f"postgresql installed, but no initdb under {PG_ROOT}")
    return found[-1].parent


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` on 127.0.0.1:<free port>; ``stop()`` removes everything."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="eloqua-deploy-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")  # created by Debian's postgresql-common
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.started = False

    @property
    def url(self) -> str:
        """SQLAlchemy URL for Airflow (trust auth on loopback: the cluster lives as long as the test)."""
        return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run([*self._as_user, *args], check=True, timeout=timeout, capture_output=True, cwd=self.dir)

    def start(self) -> PostgresServer:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            DB_USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir}"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            "120",
            "start",
            timeout=150,
        )
        self.started = True
        self.create_database(DB_NAME)
        return self

    def create_database(self, name: str) -> None:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, name)

    def stop(self) -> None:
        try:
            if self.started:
                self._run(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop", timeout=90
                )
                self.started = False
        finally:
            pid_file = self.data / "postmaster.pid"
            if pid_file.exists():  # pg_ctl failed: never leave a server behind
                with contextlib.suppress(ValueError, OSError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            shutil.rmtree(self.dir, ignore_errors=True)
