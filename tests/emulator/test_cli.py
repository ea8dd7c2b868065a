"""emulator/cli.py: ``eloqua-emulator`` serves a site with the credentials it is given, in the foreground."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_command_serves_the_site_and_user_it_is_given():
    port = _free_port()
    command = [sys.executable, "-m", "airflow_provider_eloqua.emulator.cli", "--port", str(port)]
    command += ["--site", "Demo", "--user", "Ann", "--password", "pw-1", "--log-level", "warning"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert banner.startswith(f"Eloqua emulator on http://127.0.0.1:{port} ")
        assert "site 'Demo', user 'Ann'" in banner
        url = f"http://127.0.0.1:{port}/id"
        for _ in range(1000):  # the banner comes just before uvicorn listens: bounded, 10 s
            try:
                answer = requests.get(url, auth=("Demo\\Ann", "pw-1"), timeout=10)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, "the emulator exited"
                time.sleep(0.01)
        assert answer.json()["site"]["name"] == "Demo"
        assert requests.get(url, auth=("Demo\\Ann", "wrong"), timeout=10).json() == "Not authenticated."
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
