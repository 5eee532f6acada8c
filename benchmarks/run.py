"""``make bench``: run every benchmark, print one table of P1-P8, write ``benchmarks/results.json``.

Each benchmark runs in its own process (memory and event-loop figures stay its own) and reports every
repetition; the table shows min / median / max, the goal, which statistic is held against it and
whether it meets it. ``--quick`` (``make bench BENCH_QUICK=1``) uses fewer repetitions and smaller
sizes. A benchmark that fails is reported as failed, with its error, and the others still run.

Run: ``.venv/bin/python benchmarks/run.py [--quick] [--only P1,P4]``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlib import REPO, Row, fmt, fmt_goal, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
BENCHMARKS = [
    ("P1", "parse_cost.py"),
    ("P2b", "trigger_batching.py"),
    ("P3", "wake_up_latency.py"),
    ("P4", "waiting_triggers.py"),
    ("P5", "versus_sdk.py"),
    ("P6", "mapped_batches.py"),
    ("P7", "crowd_triggers.py"),
    ("P7b", "crowd_two_triggerers.py"),
    ("P8", "catalogue_celery.py"),
]
TIMEOUT = 3600
OWN_LINE = re.compile(r"^(P\d\w*\s|     \S)")


def run_one(script: str, quick: bool, out: Path) -> dict[str, Any]:
    command = [sys.executable, str(HERE / script), "--json", str(out), *(["--quick"] if quick else [])]
    started = time.monotonic()
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    seconds = time.monotonic() - started
    # The benchmark's own lines; the provider's log lines (triggers log to stdout) are left out.
    sys.stdout.writelines(line for line in completed.stdout.splitlines(True) if OWN_LINE.match(line))
    if completed.returncode != 0 or not out.exists():
        return {"seconds": seconds, "error": (completed.stderr or completed.stdout).strip()[-3000:]}
    return {"seconds": seconds, **json.loads(out.read_text())}


def git(*args: str) -> str:
    completed = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return completed.stdout.strip()


def row_of(data: dict[str, Any]) -> Row:
    return Row(**{k: v for k, v in data.items() if k not in ("stats", "meets")})


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| | metric | goal | measured: min / median / max | n | judged on | meets goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for bench_id, result in results.items():
        if "error" in result:
            reason = result["error"].splitlines()[-1] if result["error"] else "no output"
            lines.append(f"| {bench_id} | benchmark failed: {reason} | | | | | |")
            continue
        for row in map(row_of, result["rows"]):
            goal = fmt_goal(row)
            stats = row.stats()
            judged = row.judged
            if not row.available or stats is None:
                measured, verdict, n, judged = f"not available: {row.reason}", "-", "", "-"
            else:
                spread = " / ".join(fmt(stats[key], row.unit) for key in ("min", "median", "max"))
                measured = f"{spread}{(' ' + row.unit) if row.unit else ''}"
                verdict = {True: "yes", False: "**no**", None: "-"}[row.meets()]
                n = str(len(row.values))
            metric = row.metric.strip()
            lines.append(f"| {row.id} | {metric} | {goal} | {measured} | {n} | {judged} | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller sizes")
    parser.add_argument("--only", default="", help="comma-separated ids, e.g. P1,P4")
    args = parser.parse_args()
    wanted = {part.strip() for part in args.only.split(",") if part.strip()}
    started = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="runware-bench-") as tmp:
        for bench_id, script in BENCHMARKS:
            if wanted and bench_id not in wanted:
                continue
            print(f"== {bench_id}: benchmarks/{script}", flush=True)
            results[bench_id] = run_one(script, args.quick, Path(tmp) / f"{bench_id}.json")
            if "error" in results[bench_id]:
                print(f"   FAILED:\n{results[bench_id]['error']}", flush=True)
            print(f"   ({results[bench_id]['seconds']:.0f} s)", flush=True)
    total = time.monotonic() - started
    info = machine()
    commit = git("rev-parse", "--short", "HEAD")
    if commit and git("status", "--porcelain", "-uno", "--", ".", ":!benchmarks/results.json"):
        commit += " + uncommitted changes"
    when = datetime.now(UTC).isoformat(timespec="seconds")
    header = (
        f"{when}, commit {commit or 'unknown'}{' (quick)' if args.quick else ''}: {info['cpu_count']} x "
        f"{info['cpu_model']}, {info['memory_gib']} GiB, Python {info['python']}; "
        f"make bench took {total:.0f} s"
    )
    print()
    print(header)
    print(table(results))
    RESULTS.write_text(
        json.dumps(
            {
                "when": when,
                "commit": commit,
                "quick": args.quick,
                "seconds": total,
                "machine": info,
                "benchmarks": results,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"\nraw repetitions: {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
