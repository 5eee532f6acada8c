"""P1: what a DAG file pays at parse time for using the provider, as a ratio to bare ``import airflow.sdk``.

Two DAG files run in fresh interpreters (imports are cached per process): one only imports
``airflow.sdk``; the other also imports the operator and the sensor and constructs one of each inside a
DAG, as a real DAG file does (construction validates arguments against the model catalog). What any
DAG file pays without the provider, importing ``airflow.sdk`` and building its first DAG (Airflow
imports its timetables then, about 15 ms here), is the baseline of both, so none of Airflow's own
cost is charged to the provider. Each child
times its own file (interpreter start-up excluded, the same runner for both) in CPU time, which a busy
shared machine disturbs far less than wall time (both are kept in the JSON). The
order rotates every repetition so machine noise hits all alike; the ratio of each pair is reported, and
(more precisely, as it needs no second process) the provider's share of its own process's time. The
provider is imported from a bytecode-compiled copy, as a wheel install has it; the editable checkout,
which compiles the provider's sources on every import here, is reported beside it.

Run: ``.venv/bin/python benchmarks/parse_cost.py [--reps N] [--json PATH]``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, Row, airflow_sandbox, arguments, report

BASELINE = "import airflow.sdk\n"
WITH_PROVIDER = """\
import airflow.sdk
from airflow.sdk import DAG

from airflow_provider_runware.operators.runware import RunwareImageInferenceOperator
from airflow_provider_runware.sensors.runware import RunwareTaskSensor

with DAG("parse_cost_probe", schedule=None):
    RunwareImageInferenceOperator(
        task_id="generate",
        positive_prompt="a paper lantern at dusk, {{ ds }}",
        model="google:2@3",
        width=1024,
        height=1024,
        deferrable=True,
    )
    RunwareTaskSensor(task_id="wait", task_uuids=["0b8e7f4e-2d7c-4a55-9c1e-0f2a3b4c5d6e"])
"""
# The child runs the DAG file the way a parser would (a fresh module namespace). It imports airflow.sdk
# and builds a first DAG on its own clock, so the provider file's share is also known within one
# process: seconds for [airflow.sdk + first DAG, rest of the file] in wall time, then the same in CPU time.
RUNNER = """\
import runpy, sys, time
w0, c0 = time.perf_counter(), time.process_time()
import airflow.sdk
airflow.sdk.DAG("parse_cost_first_dag", schedule=None)
w1, c1 = time.perf_counter(), time.process_time()
runpy.run_path(sys.argv[1], run_name="dag_file")
w2, c2 = time.perf_counter(), time.process_time()
import airflow_provider_runware
assert airflow_provider_runware.__file__.startswith(sys.argv[2]), airflow_provider_runware.__file__
print(w1 - w0, w2 - w1, c1 - c0, c2 - c1)
"""


def timed(dag_file: Path, pythonpath: Path | None = None) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)} if pythonpath else None
    expected_package = str(pythonpath or REPO)
    completed = subprocess.run(
        [sys.executable, "-c", RUNNER, str(dag_file), expected_package],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=dag_file.parent,  # not the checkout: `-c` puts the working directory first on sys.path
    )
    # The figures are the last line: anything the DAG file logs or warns comes before it.
    sdk_wall, rest_wall, sdk, rest = map(float, completed.stdout.strip().splitlines()[-1].split())
    return {"sdk": sdk, "rest": rest, "total": sdk + rest, "sdk_wall": sdk_wall, "rest_wall": rest_wall}


def compiled_copy(tmp: Path) -> Path:
    """The package as a wheel install has it: bytecode compiled next to the sources. (This checkout is
    an editable install and the machine sets PYTHONDONTWRITEBYTECODE, so here every import of the
    provider's own modules compiles them again; users' installs do not pay that.)"""
    site = tmp / "site"
    shutil.copytree(REPO / "airflow_provider_runware", site / "airflow_provider_runware")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(site)], check=True)
    return site


def main() -> None:
    args = arguments(__doc__ or "", default_reps=15)
    airflow_sandbox()  # children inherit a throwaway AIRFLOW_HOME
    with tempfile.TemporaryDirectory(prefix="runware-parse-cost-") as tmp:
        baseline, provider = Path(tmp) / "baseline_dag.py", Path(tmp) / "provider_dag.py"
        baseline.write_text(BASELINE)
        provider.write_text(WITH_PROVIDER)
        compiled = compiled_copy(Path(tmp))
        runs = {
            # The same sys.path as the provider's run: an extra entry makes every import look once more.
            "baseline": lambda: timed(baseline, pythonpath=compiled),
            "provider": lambda: timed(provider, pythonpath=compiled),
            "editable": lambda: timed(provider),
        }
        for run in runs.values():
            run()  # warm the OS file cache; first runs are not counted
        pairs = []
        for rep in range(args.reps):
            order = list(runs)[rep % 3 :] + list(runs)[: rep % 3]
            pairs.append({name: runs[name]() for name in order})
    rows = [
        Row(
            "P1",
            "DAG-parse cost, provider DAG file / bare `import airflow.sdk` + a DAG (paired processes)",
            1.02,
            [p["provider"]["total"] / p["baseline"]["total"] for p in pairs],
            note="CPU time of fresh interpreters, order rotating; noise between processes is a few %",
        ),
        Row(
            "P1",
            "  same, provider's share timed inside the provider's own process",
            1.02,
            [p["provider"]["total"] / p["provider"]["sdk"] for p in pairs],
            note="(airflow.sdk + operator/sensor import and construction) / airflow.sdk, one process",
        ),
        Row(
            "P1",
            "  same, editable dev install (provider compiled from source on every import)",
            1.02,
            [p["editable"]["total"] / p["editable"]["sdk"] for p in pairs],
            note="what `make install` here gives; not what a wheel install pays",
        ),
    ]
    added_ms = [p["provider"]["rest"] * 1000 for p in pairs]
    editable_ms = [p["editable"]["rest"] * 1000 for p in pairs]
    raw = {
        "seconds": pairs,
        "provider_added_ms": added_ms,
        "editable_added_ms": editable_ms,
        "measured_at": time.time(),
    }
    report(args, rows, raw)
    sdk_ms = statistics.median(p["baseline"]["sdk"] for p in pairs) * 1000
    print(
        f"     bare import airflow.sdk: median {sdk_ms:.0f} ms CPU; the provider's imports and construction "
        f"add median {statistics.median(added_ms):.0f} ms ({statistics.median(editable_ms):.0f} ms editable)"
    )


if __name__ == "__main__":
    main()
