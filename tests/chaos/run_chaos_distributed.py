"""``make chaos-distributed``: run the distributed chaos campaign once, print its summary and violations.

    .venv/bin/python tests/chaos/run_chaos_distributed.py --seed 7 --fault-rate 0.3

CeleryExecutor on Redis and PostgreSQL with two workers and two triggerers under a supervisor; see
tests/chaos/chaos_distributed.py. Exits 0 when every invariant held and every scheduled fault fired,
1 otherwise. Results go to tests/chaos/results/last-run-distributed.{json,txt}.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the tests' shared helpers, as under pytest

from chaos_campaign import RESULTS_DIR  # noqa: E402
from chaos_distributed import RESULTS_NAME, DistributedSettings, run_distributed_campaign  # noqa: E402
from chaos_invariants import group_by_invariant  # noqa: E402


def parse_args() -> argparse.Namespace:
    defaults = DistributedSettings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="emulator fault seed")
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate, help="per API POST")
    parser.add_argument("--run-timeout", type=float, default=defaults.run_timeout, help="seconds")
    parser.add_argument("--generation-seconds", type=float, default=defaults.generation_seconds)
    parser.add_argument("--concurrency", type=int, default=defaults.worker_concurrency, help="per worker")
    parser.add_argument("--parallelism", type=int, default=defaults.parallelism)
    parser.add_argument(
        "--visibility-timeout", type=int, default=defaults.visibility_timeout, help="Celery broker, seconds"
    )
    parser.add_argument("--heartbeat-timeout", type=int, default=defaults.heartbeat_timeout, help="seconds")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep AIRFLOW_HOME and server logs")
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
    workdir = Path(tempfile.mkdtemp(prefix="runware-chaos-distributed-"))
    try:
        result = run_distributed_campaign(settings, workdir, args.results_dir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for invariant, violations in group_by_invariant(result.report.violations).items():
        print(f"\n{invariant} ({len(violations)}):")
        for violation in violations:
            print(f"  - {violation.where}: {violation.detail}")
    if result.report.failure_reasons:
        print("\nfailed tasks (legitimate or not, as their logs say):")
        for label, reason in sorted(result.report.failure_reasons.items()):
            print(f"  - {label}: {reason[:300]}")
    for event in result.process_events:
        print(f"fault: {event}")
    for restart in result.restarts:
        print(f"supervisor: {restart}")
    for problem in result.harness_problems:
        print(f"harness: {problem}")
    print(f"\nresults: {args.results_dir / (RESULTS_NAME + '.json')}")
    print(result.summary_line())
    return 1 if result.report.violations or result.harness_problems else 0


if __name__ == "__main__":
    sys.exit(main())
