"""``runware-emulator`` / ``python -m airflow_provider_runware.emulator``: a local Runware API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from airflow_provider_runware.emulator.chaos import RandomFaultConfig, RandomFaultConfigError
from airflow_provider_runware.emulator.modes import BALANCE_SHAPES, ERROR_SHAPES, ModeError, parse_date
from airflow_provider_runware.emulator.server import build_config, serve
from airflow_provider_runware.emulator.state import VIDEO_SLOWDOWN, Settings


def _date(value: str) -> object:
    try:
        return parse_date(value)
    except ModeError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


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
    parser.add_argument(
        "--video-seconds",
        type=float,
        default=None,
        help=f"time one videoInference task's videos take (default: {VIDEO_SLOWDOWN} times "
        "--generation-seconds, 30 s out of the box)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request (off by default)")
    parser.add_argument(
        "--today",
        type=_date,
        default=None,
        help="the emulator's date, YYYY-MM-DD: models past their deactivation date answer as retired "
        "(default: the real date)",
    )
    parser.add_argument(
        "--error-shape",
        choices=ERROR_SHAPES,
        default="nested",
        help="how getResponse reports a failed task: nested in data (runware-sdk 1.8.0, default) or flat",
    )
    parser.add_argument(
        "--balance-shape",
        choices=BALANCE_SHAPES,
        default="object",
        help="accountManagement balance as an object (runware-sdk 1.8.0, default) or a number",
    )
    chaos = parser.add_argument_group(
        "random faults",
        "Seeded chaos: each API POST gets a random fault (HTTP 429/5xx, dropped connection, malformed "
        "body, slow answer, queue delay, failed generation) with probability --fault-rate; each upload "
        "PUT fails with probability --upload-fault-rate. Same seed and request order, same faults.",
    )
    chaos.add_argument("--fault-rate", type=float, default=0.0, help="0..1 (default 0: off)")
    chaos.add_argument("--fault-seed", type=int, default=0, help="RNG seed (default 0)")
    chaos.add_argument(
        "--upload-fault-rate", type=float, default=None, help="0..1 (default: a tenth of --fault-rate)"
    )
    args = parser.parse_args(argv)
    try:
        args.random_faults = _random_faults(args)
    except RandomFaultConfigError as error:
        parser.error(str(error))
    return args


def _random_faults(args: argparse.Namespace) -> RandomFaultConfig | None:
    if not args.fault_rate and not args.upload_fault_rate:
        return None
    return RandomFaultConfig.of(args.fault_rate, args.fault_seed, args.upload_fault_rate)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    settings = Settings(
        api_key=args.api_key,
        latency=args.latency,
        generation_seconds=args.generation_seconds,
        video_seconds=args.video_seconds,
        today=args.today,
        error_shape=args.error_shape,
        balance_shape=args.balance_shape,
        random_faults=args.random_faults,
    )
    config = build_config(settings, args.host, args.port, access_log=args.access_log)
    exit_code = 0
    with contextlib.suppress(KeyboardInterrupt):
        exit_code = asyncio.run(serve(config, lambda line: print(line, flush=True)))
    if exit_code:
        raise SystemExit(exit_code)


if __name__ == "__main__":
    main()
