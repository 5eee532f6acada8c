"""``runware-emulator`` / ``python -m airflow_provider_runware.emulator``: a local Runware API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from airflow_provider_runware.emulator.server import build_config, serve
from airflow_provider_runware.emulator.state import Settings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="runware-emulator",
        description="A Runware-compatible API for tests and demos: no key, no cost, scriptable faults.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to bind; 0 picks a free one (default 8765)"
    )
    parser.add_argument("--api-key", default=None, help="the only key accepted (default: any non-empty key)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added before every API answer")
    parser.add_argument(
        "--generation-seconds", type=float, default=0.3, help="time one task's images take (default 0.3)"
    )
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request (off by default)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    settings = Settings(
        api_key=args.api_key, latency=args.latency, generation_seconds=args.generation_seconds
    )
    config = build_config(settings, args.host, args.port, access_log=args.access_log)
    exit_code = 0
    with contextlib.suppress(KeyboardInterrupt):
        exit_code = asyncio.run(serve(config, lambda line: print(line, flush=True)))
    if exit_code:
        raise SystemExit(exit_code)


if __name__ == "__main__":
    main()
