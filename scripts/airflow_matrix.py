"""`make matrix`: the provider's core suite on every Airflow 3 line, each in its own virtualenv.

For each line (3.0, 3.1, 3.2, 3.3) one environment, ``.venv-airflow-<line>``, holds that line's
Airflow patch and everything else as it was the day after that patch's release
(``uv pip install --exclude-newer``), so the set is what a platform pinned to that release would have
installed. An environment is rebuilt only when pyproject.toml or the line's pins change (a stamp file
keyed on their hash), so a repeat costs seconds plus the tests.

Each line runs the unit tests and the ``dag.test()`` suites of the operator, the sensor and the image
tools (deferrable, blocking, submit-only + sensor, retries, clears that reuse images, a lost answer that
never pays twice); the oldest line also runs the end-to-end test on real Airflow services (api-server,
scheduler, triggerer, dag-processor). A line fails when its install fails, when pytest fails, or when
pytest collected no test (exit 5). One table at the end: line, Airflow version, exclude-newer date,
pytest counts, wall time.

    python scripts/airflow_matrix.py            # every line
    python scripts/airflow_matrix.py 3.0        # one line (``make matrix LINES=3.0``)
    python scripts/airflow_matrix.py --oldest   # only the oldest (``make matrix-oldest``)
    python scripts/airflow_matrix.py 3.2 3.3 -- -k sensor   # extra pytest arguments after --
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Line:
    """One Airflow 3 line: the patch the matrix installs and the day after that patch's release."""

    name: str
    airflow: str
    exclude_newer: str
    # Pins a line needs on top of Airflow's own (e.g. an old-era test tool that breaks); each with why.
    pins: tuple[str, ...] = ()

    @property
    def venv(self) -> Path:
        return ROOT / f".venv-airflow-{self.name}"


# The lowest 3.0 patch the provider supports (its apache-airflow floor), and the newest patch of each
# later line. Not 3.0.0/3.0.1: their dag.test() (and `airflow dags test`) runs a task in-process on the
# legacy TaskInstance path without a task-SDK supervisor, so the SDK's Variable (the ledger's home below
# 3.3) raises "cannot import name 'SUPERVISOR_COMMS'" and an execution_timeout (AirflowTaskTimeout, a
# BaseException there) escapes DAG.test; on real services 3.0.0 passed the e2e test. 3.0.2 runs both.
LINES = {
    line.name: line
    for line in (
        Line("3.0", "3.0.2", "2025-06-11"),
        Line("3.1", "3.1.8", "2026-03-12"),
        Line("3.2", "3.2.2", "2026-05-30"),
        Line("3.3", "3.3.2", "2026-09-18"),
    )
}
OLDEST = min(LINES.values(), key=lambda line: tuple(int(part) for part in line.airflow.split(".")))

# Every extra the selected tests touch: amazon (S3 outputs and inputs, moto), google and
# microsoft-azure (the unit tests' signing and parsing of GCS and Azure locations), the emulator.
EXTRAS = "emulator,amazon,google,microsoft-azure"
# What the selected test files import or start beyond the package and its extras, unpinned: the
# exclude-newer date picks the versions of that line's era.
TEST_REQUIREMENTS = (
    "pytest",
    "pytest-asyncio",
    "pytest-timeout",
    "moto[server]",
    "boto3",
    "psutil",
    "jsonschema",
    # Airflow's StatsD client, for the metrics test (Airflow's own `statsd` extra).
    "statsd",
    "gcp-storage-emulator",
    # gcp-storage-emulator needs fs 2.4.16, which imports pkg_resources: setuptools 81 and later no
    # longer ship it (3.1's era resolves setuptools 82 and the GCS emulator would not start).
    "setuptools<81",
)
# Each line: the unit tests and the dag.test() suites of the operator, sensor and image tools (deferrable,
# blocking, submit-only + sensor, retries, clears that reuse images, lost answers never paid twice), of
# the ledger's home on that line (task_state_store from 3.3, an Airflow Variable below), the example
# DAGs' registry (the examples it runs itself; the product campaign's entry skips below 3.1) and the
# metrics a StatsD server receives (Airflow's Stats lives in a different module on each line).
TESTS = (
    "tests/unit",
    "tests/integration/test_operator_dags.py",
    "tests/integration/test_image_tools_dags.py",
    "tests/integration/test_ledger_home.py",
    "tests/integration/test_example_dags.py",
    "tests/integration/test_metrics.py",
)
# The oldest line also: real api-server, scheduler, triggerer, dag-processor (about 3 minutes), with a
# SIGKILLed worker and a restarted triggerer.
OLDEST_TESTS = (
    "tests/integration/test_never_lose_e2e.py",
    "tests/integration/test_process_faults_e2e.py",
)
STAMP_NAME = ".matrix-stamp"


@dataclass
class Result:
    line: Line
    installed: str = "-"
    install_seconds: float = 0.0
    built: bool = False
    test_seconds: float = 0.0
    exit_code: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and self.exit_code == 0 and self.counts.get("collected", 0) > 0


def stamp_for(line: Line) -> str:
    """What the environment was built from: pyproject.toml, the line's pins, the test requirements."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    recipe = [line.airflow, line.exclude_newer, list(line.pins), EXTRAS, list(TEST_REQUIREMENTS)]
    digest.update(json.dumps(recipe).encode())
    return digest.hexdigest()


def install_command(uv: str, line: Line) -> list[str]:
    python = str(line.venv / "bin" / "python")
    return [
        uv,
        "pip",
        "install",
        "--python",
        python,
        "--compile-bytecode",
        "--exclude-newer",
        line.exclude_newer,
        f"apache-airflow=={line.airflow}",
        "-e",
        f".[{EXTRAS}]",
        *TEST_REQUIREMENTS,
        *line.pins,
    ]


def build(uv: str, line: Line, result: Result) -> bool:
    """Build (or keep) the line's environment; False, with the reason in ``result``, when it failed."""
    stamp_path = line.venv / STAMP_NAME
    stamp = stamp_for(line)
    started = time.monotonic()
    if stamp_path.is_file() and stamp_path.read_text().strip() == stamp:
        print(f"[{line.name}] {line.venv.name} is up to date (stamp {stamp[:12]})", flush=True)
    else:
        result.built = True
        print(
            f"[{line.name}] building {line.venv.name}: Airflow {line.airflow}, exclude-newer "
            f"{line.exclude_newer}",
            flush=True,
        )
        # From scratch: nothing of an earlier resolution may linger in the environment.
        shutil.rmtree(line.venv, ignore_errors=True)
        log = ROOT / f"{line.venv.name}.install.log"
        steps = [
            [uv, "venv", "--quiet", "--python", sys.executable, str(line.venv)],
            install_command(uv, line),
        ]
        with log.open("w") as out:
            for step in steps:
                out.write("$ " + " ".join(step) + "\n")
                out.flush()
                completed = subprocess.run(step, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
                if completed.returncode != 0:
                    break
        if completed.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-25:])
            result.install_seconds = time.monotonic() - started
            result.problem = f"install failed (exit {completed.returncode}); see {log.name}"
            print(f"[{line.name}] INSTALL FAILED:\n{tail}", flush=True)
            return False
        log.unlink()
        stamp_path.write_text(stamp + "\n")
    result.install_seconds = time.monotonic() - started
    version = subprocess.run(
        [
            str(line.venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('apache-airflow'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    result.installed = version.stdout.strip() or "?"
    if result.installed != line.airflow:
        result.problem = f"installed Airflow {result.installed}, expected {line.airflow}"
        return False
    return True


def junit_counts(path: Path) -> dict[str, int]:
    """passed / failed / errors / skipped / collected from pytest's JUnit XML (zeros if absent)."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "collected": 0}
    if not path.is_file():
        return counts
    for suite in ET.parse(path).getroot().iter("testsuite"):  # noqa: S314 - pytest's own output
        tests, failures = int(suite.get("tests", 0)), int(suite.get("failures", 0))
        errors, skipped = int(suite.get("errors", 0)), int(suite.get("skipped", 0))
        counts["failed"] += failures
        counts["errors"] += errors
        counts["skipped"] += skipped
        counts["collected"] += tests
        counts["passed"] += tests - failures - errors - skipped
    return counts


def run_tests(line: Line, result: Result, extra_args: list[str]) -> None:
    paths = [*TESTS, *(OLDEST_TESTS if line == OLDEST else ())]
    junit = line.venv / "last-run.junit.xml"
    junit.unlink(missing_ok=True)
    command = [
        str(line.venv / "bin" / "python"),
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-rfEsx",
        "--disable-warnings",
        f"--junitxml={junit}",
        *paths,
        *extra_args,
    ]
    env = {**os.environ, "VIRTUAL_ENV": str(line.venv)}
    env["PATH"] = f"{line.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    print(f"[{line.name}] $ {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    completed = subprocess.run(command, cwd=ROOT, env=env, check=False)
    result.test_seconds = time.monotonic() - started
    result.exit_code = completed.returncode
    result.counts = junit_counts(junit)
    if completed.returncode == 5 or result.counts["collected"] == 0:
        result.problem = "pytest collected no test"
    elif completed.returncode != 0:
        result.problem = f"pytest exit {completed.returncode}"


def verdict(result: Result) -> str:
    if result.problem:
        return f"FAIL: {result.problem}"
    if result.exit_code is None:
        return "built (no tests run)"
    return "ok"


def table(results: list[Result]) -> str:
    header = (
        "line",
        "airflow",
        "exclude-newer",
        "passed",
        "failed",
        "errors",
        "skipped",
        "install",
        "tests",
        "wall",
        "result",
    )
    rows = [header]
    for r in results:
        c = r.counts
        install = f"{r.install_seconds:.0f}s" + (" (built)" if r.built else "")
        rows.append(
            (
                r.line.name,
                r.installed,
                r.line.exclude_newer,
                *(str(c.get(key, "-")) for key in ("passed", "failed", "errors", "skipped")),
                install,
                f"{r.test_seconds:.0f}s",
                f"{r.install_seconds + r.test_seconds:.0f}s",
                verdict(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("lines", nargs="*", help=f"lines to run (default: all of {', '.join(LINES)})")
    parser.add_argument("--oldest", action="store_true", help=f"only the oldest line ({OLDEST.name})")
    parser.add_argument("--build-only", action="store_true", help="build the environments, run no test")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, pytest_args = parser.parse_args(argv[:split]), argv[split + 1 :]
    unknown = [name for name in args.lines if name not in LINES]
    if unknown:
        parser.error(f"unknown line(s) {unknown}; known: {list(LINES)}")
    selected = [OLDEST] if args.oldest else [LINES[name] for name in (args.lines or LINES)]
    uv = str(Path(sys.executable).parent / "uv")
    results = []
    started = time.monotonic()
    for line in selected:
        result = Result(line)
        results.append(result)
        if build(uv, line, result) and not args.build_only:
            run_tests(line, result, pytest_args)
    print(f"\nAirflow matrix ({time.monotonic() - started:.0f}s in all):\n{table(results)}", flush=True)
    if args.build_only:
        return 0 if all(not r.problem for r in results) else 1
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
