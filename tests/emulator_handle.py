"""The Runware emulator as a real subprocess, and a handle on its control API for tests.

The emulator runs as ``python -m airflow_provider_runware.emulator`` exactly as users start it, so the
tests exercise the real HTTP server (uvicorn, sockets, dropped connections), not an in-process app.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
EMULATOR_API_KEY = "test-runware-key"
STARTUP_TIMEOUT = 30.0
_UNSET: Any = object()


@dataclass
class EmulatorHandle:
    """Where the emulator listens, the key it accepts, and its ``/_emulator`` control API."""

    root_url: str
    api_key: str

    @property
    def base_url(self) -> str:
        """The Runware API URL (what goes into a connection's host field)."""
        return f"{self.root_url}/v1"

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        with httpx.Client(trust_env=False, timeout=10.0) as client:
            response = client.request(method, f"{self.root_url}/_emulator/{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget tasks, images, the request log and faults; the balance goes back to 100."""
        self._control("POST", "reset")

    def fault(self, **spec: Any) -> dict[str, Any]:
        """Script one fault, e.g. ``fault(kind="http_status", status=429, retry_after=1, count=2)``."""
        result: dict[str, Any] = self._control("POST", "faults", json=spec)
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._control("GET", "faults")
        return result

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward, e.g. past an image's ttl."""
        self._control("POST", "clock", json={"advance": seconds})

    def requests(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The request log: ``api`` entries (one per task of every POST /v1) plus ``generation``,
        ``upload`` and ``webhook`` entries; filter with ``kind``."""
        params = {"kind": kind} if kind else None
        result: list[dict[str, Any]] = self._control("GET", "requests", params=params)
        return result

    def tasks_of_type(self, task_type: str) -> list[dict[str, Any]]:
        """Logged API tasks of one taskType, e.g. every ``imageInference`` submission."""
        return [entry for entry in self.requests("api") if entry.get("taskType") == task_type]

    def post(
        self, tasks: Sequence[Any] | Any, *, api_key: str | None = _UNSET, timeout: float = 30.0
    ) -> httpx.Response:
        """POST raw tasks to ``/v1`` with a Bearer key (the handle's key unless told otherwise)."""
        key = self.api_key if api_key is _UNSET else api_key
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        with httpx.Client(trust_env=False, timeout=timeout) as client:
            return client.post(self.base_url, json=tasks, headers=headers)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_answering(process: subprocess.Popen[bytes], handle: EmulatorHandle, output: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}:\n{output.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{handle.root_url}/_emulator/health", timeout=1.0, trust_env=False).is_success:
                return
        time.sleep(0.05)
    raise RuntimeError(f"emulator did not answer within {STARTUP_TIMEOUT}s:\n{output.read_text()}")


@contextlib.contextmanager
def running_emulator(api_key: str = EMULATOR_API_KEY, *extra_args: str) -> Iterator[EmulatorHandle]:
    """Start ``python -m airflow_provider_runware.emulator`` on a free loopback port; stop it after."""
    port = free_port()
    command = [sys.executable, "-m", "airflow_provider_runware.emulator", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--api-key", api_key, *extra_args]
    with tempfile.TemporaryDirectory(prefix="runware-emulator-") as tmp:
        output = Path(tmp) / "emulator.log"
        with output.open("wb") as sink:
            process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=sink, stderr=subprocess.STDOUT)
        handle = EmulatorHandle(root_url=f"http://127.0.0.1:{port}", api_key=api_key)
        try:
            _wait_until_answering(process, handle, output)
            yield handle
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
