"""What a DAG file pays at parse time for importing the operator and sensor, as a ratio.

Each variant runs in fresh interpreters (imports are cached per process), alternating so machine noise
hits both alike; the median of the runs is reported. Run: ``.venv/bin/python benchmarks/parse_cost.py``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

BASELINE = "import airflow.sdk"
WITH_PROVIDER = (
    "import airflow.sdk\n"
    "import airflow_provider_runware.operators.runware\n"
    "import airflow_provider_runware.sensors.runware\n"
)
RUNS = 7


def timed(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def main() -> None:
    timed(BASELINE)  # warm the OS file cache
    baseline, provider = [], []
    for _ in range(RUNS):
        baseline.append(timed(BASELINE))
        provider.append(timed(WITH_PROVIDER))
    base, with_provider = statistics.median(baseline), statistics.median(provider)
    print(f"import airflow.sdk:                 {base * 1000:7.0f} ms (median of {RUNS})")
    print(f"+ operator and sensor modules:      {with_provider * 1000:7.0f} ms")
    print(f"ratio provider/baseline:            {with_provider / base:7.3f}")
    print(f"added by the provider:              {(with_provider - base) * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
