"""Why polls are batched: one getResponse POST for N tasks versus N POSTs, against the emulator.

Starts the bundled emulator on a free loopback port, submits N async tasks, then times polling them
both ways in the same run and prints the ratio. Run: ``.venv/bin/python benchmarks/poll_batching.py``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import httpx

TASKS = 200
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(root: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{root}/_emulator/health", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("emulator did not start")


def main() -> None:
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "airflow_provider_runware.emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        # The seed model (DALL·E 2) is retired on the live API since 2026-05-12; the emulator plays it
        # live on a date before that.
        "--today",
        "2026-05-01",
    ]
    server = subprocess.Popen(
        [*command, "--api-key", KEY], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_up(root)
        with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
            uuids = [str(uuid.uuid4()) for _ in range(TASKS)]
            tasks = [
                {
                    "taskType": "imageInference",
                    "taskUUID": task_uuid,
                    "model": "openai:2@2",
                    "positivePrompt": "benchmark",
                    "width": 256,
                    "height": 256,
                    "deliveryMethod": "async",
                }
                for task_uuid in uuids
            ]
            client.post(f"{root}/v1", json=tasks).raise_for_status()
            polls = [{"taskType": "getResponse", "taskUUID": task_uuid} for task_uuid in uuids]
            started = time.perf_counter()
            client.post(f"{root}/v1", json=polls)
            batched = time.perf_counter() - started
            started = time.perf_counter()
            for poll in polls:
                client.post(f"{root}/v1", json=[poll])
            one_by_one = time.perf_counter() - started
        print(f"poll {TASKS} tasks in one POST:   {batched * 1000:8.1f} ms")
        print(f"poll {TASKS} tasks one per POST:  {one_by_one * 1000:8.1f} ms")
        print(f"ratio one-by-one / batched:      {one_by_one / batched:8.1f}x")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
