"""``make chaos-distributed``: run the distributed chaos campaign once, print its summary and violations.

    .venv/bin/python tests/chaos/run_chaos_distributed.py --seed 7 --fault-rate 0.3

CeleryExecutor on Redis and PostgreSQL with two workers and two triggerers under a supervisor; see
tests/chaos/chaos_distributed.py. Exits 0 when every invariant held and every scheduled fault fired,
1 otherwise. Results go to tests/chaos/results/last-run-distributed.{json,txt}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the tests' shared helpers, as under pytest

from chaos_cli import campaign_parser, campaign_workdir, report  # noqa: E402
from chaos_distributed import RESULTS_NAME, DistributedSettings, run_distributed_campaign  # noqa: E402


def parse_args() -> argparse.Namespace:
    defaults = DistributedSettings()
    parser = campaign_parser(__doc__, defaults)
    parser.add_argument("--generation-seconds", type=float, default=defaults.generation_seconds)
    parser.add_argument("--concurrency", type=int, default=defaults.worker_concurrency, help="per worker")
    parser.add_argument("--parallelism", type=int, default=defaults.parallelism)
    parser.add_argument(
        "--visibility-timeout", type=int, default=defaults.visibility_timeout, help="Celery broker, seconds"
    )
    parser.add_argument("--heartbeat-timeout", type=int, default=defaults.heartbeat_timeout, help="seconds")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    settings = DistributedSettings(
        seed=args.seed,
        fault_rate=args.fault_rate,
        run_timeout=args.run_timeout,
        generation_seconds=args.generation_seconds,
        worker_concurrency=args.concurrency,
        parallelism=args.parallelism,
        visibility_timeout=args.visibility_timeout,
        heartbeat_timeout=args.heartbeat_timeout,
    )
    with campaign_workdir("runware-chaos-distributed-", args.keep) as workdir:
        result = run_distributed_campaign(settings, workdir, args.results_dir)
    events = [f"fault: {event}" for event in result.process_events]
    events += [f"supervisor: {restart}" for restart in result.restarts]
    return report(result, args.results_dir / f"{RESULTS_NAME}.json", events)


if __name__ == "__main__":
    sys.exit(main())
