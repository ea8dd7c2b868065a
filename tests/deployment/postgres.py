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
import time
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
DB_NAME = "airflow"
DB_USER = "airflow"
SHM = "/dev/shm"


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


def memory_folder(room: int = 2 << 30) -> str | None:
    """``/dev/shm`` when it is a tmpfs with ``room`` bytes free (a container's may have 64 MiB), else None:
    a throwaway cluster there never waits for the disk, and deleting it is instant, where a disk mounted
    with ``discard`` takes seconds to delete its thousands of files."""
    with contextlib.suppress(OSError):
        if shutil.disk_usage(SHM).free >= room and os.access(SHM, os.W_OK):
            return SHM
    return None


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
    """``initdb`` + ``pg_ctl start`` on 127.0.0.1:<free port>; ``stop()`` removes everything (``-m immediate``:
    the data is thrown away, so no shutdown checkpoint writes it out first).

    :param durable: ``False`` turns off fsync, synchronous commits and full-page writes, keeps little WAL, and
        puts the cluster in memory where there is room (``memory_folder``): no commit waits for the disk, and
        a crash would lose a cluster the tests throw away anyway.
    """

    def __init__(self, durable: bool = True) -> None:
        self.durable = durable
        self.bin = postgres_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="eloqua-deploy-pg-", dir=None if durable else memory_folder()))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")  # created by Debian's postgresql-common
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.started = False
        self.removed_in = 0.0  # seconds stop() took to delete the cluster

    @property
    def url(self) -> str:
        """SQLAlchemy URL for Airflow (trust auth on loopback: the cluster lives as long as the test)."""
        return self.database_url(DB_NAME)

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.port}/{name}"

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
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            # and little WAL kept: less to write, and less to delete when the cluster goes
            options += " -c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=64MB -c min_wal_size=32MB"
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

    def create_database(self, name: str, template: str | None = None) -> None:
        """A new database, empty or a copy of ``template`` (which nobody may be connected to)."""
        copy = ["-T", template] if template else []
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, *copy, name)

    def stop(self) -> None:
        try:
            if self.started:
                self._run(
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "60",
                    "stop",
                    timeout=90,
                )
                self.started = False
        finally:
            pid_file = self.data / "postmaster.pid"
            if pid_file.exists():  # pg_ctl failed: never leave a server behind
                with contextlib.suppress(ValueError, OSError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            removing = time.monotonic()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.removed_in = time.monotonic() - removing
