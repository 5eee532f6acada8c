"""``make chaos``: run the chaos campaign once, print its summary line and every violation.

    .venv/bin/python tests/chaos/run_chaos.py --seed 7 --fault-rate 0.3

Exits 0 when every invariant held and the campaign exercised everything it meant to, 1 otherwise.
Results go to tests/chaos/results/last-run.{json,txt}.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the tests' shared helpers, as under pytest

from chaos_campaign import RESULTS_DIR, CampaignSettings, run_campaign  # noqa: E402
from chaos_invariants import group_by_invariant  # noqa: E402


def parse_args() -> argparse.Namespace:
    defaults = CampaignSettings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="emulator fault seed")
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate, help="per API POST")
    parser.add_argument("--worker-kills", type=int, default=defaults.worker_kills)
    parser.add_argument("--triggerer-restarts", type=int, default=defaults.triggerer_restarts)
    parser.add_argument("--outages", type=int, default=defaults.outages, help="API outages (at most 2)")
    parser.add_argument("--run-timeout", type=float, default=defaults.run_timeout, help="seconds")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep AIRFLOW_HOME and server logs")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    settings = CampaignSettings(
        seed=args.seed,
        fault_rate=args.fault_rate,
        worker_kills=args.worker_kills,
        triggerer_restarts=args.triggerer_restarts,
        outages=args.outages,
        run_timeout=args.run_timeout,
    )
    workdir = Path(tempfile.mkdtemp(prefix="runware-chaos-"))
    try:
        result = run_campaign(settings, workdir, args.results_dir)
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
    for problem in result.harness_problems:
        print(f"harness: {problem}")
    print(f"\nresults: {args.results_dir / 'last-run.json'}")
    print(result.summary_line())
    return 1 if result.report.violations or result.harness_problems else 0


if __name__ == "__main__":
    sys.exit(main())
