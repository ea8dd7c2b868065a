"""``eloqua-emulator``: serve an emulated Eloqua site in the foreground (demos, manual testing)."""

from __future__ import annotations

import argparse

import uvicorn

from airflow_provider_eloqua.emulator.app import create_app
from airflow_provider_eloqua.emulator.server import uvicorn_config
from airflow_provider_eloqua.emulator.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_SITE,
    DEFAULT_USER,
    EmulatorState,
)

#: Not 8080: that is the Airflow API server's (and UI's) default port, usually running beside it.
DEFAULT_PORT = 8090


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="eloqua-emulator", description="Serve an in-memory Eloqua Bulk API 2.0.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument("--site", default=DEFAULT_SITE)
    parser.add_argument("--user", default=DEFAULT_USER)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    state = EmulatorState(args.site, args.user, args.password, args.client_id, args.client_secret)
    print(
        f"Eloqua emulator on http://{args.host}:{args.port} (Bulk API under /api/bulk/2.0, "
        f"control API under /_emulator); site {args.site!r}, user {args.user!r}",
        flush=True,
    )
    uvicorn.Server(uvicorn_config(create_app(state), args.host, args.port, args.log_level)).run()


if __name__ == "__main__":
    main()
