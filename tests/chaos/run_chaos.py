"""``make chaos``: run the chaos campaign once, print its summary line and every violation.

    .venv/bin/python tests/chaos/run_chaos.py --seed 7 --fault-rate 0.3

Exits 0 when every invariant held and the campaign exercised everything it meant to, 1 otherwise.
Results go to tests/chaos/results/last-run.{json,txt}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the tests' shared helpers, as under pytest

from chaos_campaign import CampaignSettings, run_campaign  # noqa: E402
from chaos_cli import campaign_parser, campaign_workdir, report  # noqa: E402


def parse_args() -> argparse.Namespace:
    defaults = CampaignSettings()
    parser = campaign_parser(__doc__, defaults)
    parser.add_argument("--worker-kills", type=int, default=defaults.worker_kills)
    parser.add_argument("--triggerer-restarts", type=int, default=defaults.triggerer_restarts)
    parser.add_argument("--outages", type=int, default=defaults.outages, help="API outages (at most 2)")
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
    with campaign_workdir("runware-chaos-", args.keep) as workdir:
        result = run_campaign(settings, workdir, args.results_dir)
    return report(result, args.results_dir / "last-run.json")


if __name__ == "__main__":
    sys.exit(main())
