"""What the two chaos campaigns' command lines share (``run_chaos.py``, ``run_chaos_distributed.py``):
the options every campaign takes, a throwaway work directory, and the report printed after a run, so the
two print their outcome the same way and exit with the same rule."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from chaos_campaign import RESULTS_DIR, CampaignResult, CampaignSettings
from chaos_invariants import group_by_invariant


def campaign_parser(description: str | None, defaults: CampaignSettings) -> argparse.ArgumentParser:
    """A parser with the options of every campaign; each command line adds its own knobs."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="emulator fault seed")
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate, help="per API POST")
    parser.add_argument("--run-timeout", type=float, default=defaults.run_timeout, help="seconds")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep AIRFLOW_HOME and server logs")
    return parser


@contextlib.contextmanager
def campaign_workdir(prefix: str, keep: bool) -> Iterator[Path]:
    """A fresh directory for the campaign's AIRFLOW_HOME and logs: removed afterwards unless ``keep``
    (then its path is printed)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield workdir
    finally:
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(result: CampaignResult, results_file: Path, events: Iterable[str] = ()) -> int:
    """Print every violation by invariant, why tasks failed, ``events`` (what the campaign did to its
    processes), the harness's problems, where the results are and the summary line. The exit status:
    0 when every invariant held and the harness did all it meant to, else 1."""
    for invariant, violations in group_by_invariant(result.report.violations).items():
        print(f"\n{invariant} ({len(violations)}):")
        for violation in violations:
            print(f"  - {violation.where}: {violation.detail}")
    if result.report.failure_reasons:
        print("\nfailed tasks (legitimate or not, as their logs say):")
        for label, reason in sorted(result.report.failure_reasons.items()):
            print(f"  - {label}: {reason[:300]}")
    for event in events:
        print(event)
    for problem in result.harness_problems:
        print(f"harness: {problem}")
    print(f"\nresults: {results_file}")
    print(result.summary_line())
    return 1 if result.report.violations or result.harness_problems else 0
