"""The Runware emulator as a real subprocess, and a handle on its control API for tests.

The emulator runs as ``python -m airflow_provider_runware.emulator`` exactly as users start it, so the
tests exercise the real HTTP server (uvicorn, sockets, dropped connections), not an in-process app.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from servers import Spawned, serving

REPO_ROOT = Path(__file__).resolve().parent.parent
EMULATOR_API_KEY = "test-runware-key"
# Tests replay the DALL·E 2 model page (openai:2@2), which Runware deactivates on 2026-05-12: the
# session's emulator lives on a date when the page was true. Retirement tests move the date on.
BEFORE_DALLE2_RETIREMENT = "2026-05-01"
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

    def connection(self, api_key: str | None = None, **extra: Any) -> str:
        """A ``runware`` Airflow connection to the emulator, as JSON for ``AIRFLOW_CONN_*``: this handle's
        key unless another is given, and ``extra`` (if any) as the connection's extra."""
        connection: dict[str, Any] = {
            "conn_type": "runware",
            "password": self.api_key if api_key is None else api_key,
            "host": self.base_url,
        }
        if extra:
            connection["extra"] = extra
        return json.dumps(connection)

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

    def clear_faults(self) -> None:
        """End every scripted fault (the random-fault mode stays as it is)."""
        self._control("DELETE", "faults")

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._control("GET", "faults")
        return result

    def config(self, **modes: Any) -> dict[str, Any]:
        """Read the emulator's modes, or change some until the next reset, e.g.
        ``config(today="2026-06-01")`` or ``config(error_shape="flat", balance_shape="number")``."""
        if not modes:
            result: dict[str, Any] = self._control("GET", "config")
        else:
            result = self._control("POST", "config", json=modes)
        return result

    def random_faults(self, rate: float, seed: int = 0, **options: Any) -> dict[str, Any]:
        """Start the seeded random-fault mode with fresh RNG streams, e.g. ``random_faults(0.3, seed=7)``.

        ``options``: ``upload_rate``, ``weights`` ({kind: weight}), ``slow_seconds``, ``queue_delay_seconds``.
        """
        result: dict[str, Any] = self._control(
            "POST", "faults/random", json={"rate": rate, "seed": seed, **options}
        )
        return result

    def stop_random_faults(self) -> None:
        self._control("DELETE", "faults/random")

    def fault_stats(self) -> dict[str, Any]:
        """Random faults injected so far: ``injected`` by kind, ``posts`` and ``uploads`` that drew."""
        result: dict[str, Any] = self._control("GET", "faults/stats")
        return result

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward, e.g. past an image's ttl."""
        self._control("POST", "clock", json={"advance": seconds})

    def requests(self, kind: str | None = None, task_type: str | None = None) -> list[dict[str, Any]]:
        """The request log: ``api`` entries (one per task of every POST /v1) plus ``generation``,
        ``upload``, ``webhook`` and ``input`` entries (every image input resolved: ``parameter``,
        ``source`` form, ``target`` URL without its query or imageUUID, download ``status``, ``bytes``);
        filter with ``kind`` (and ``task_type`` for api entries)."""
        params = {key: value for key, value in (("kind", kind), ("task_type", task_type)) if value}
        result: list[dict[str, Any]] = self._control("GET", "requests", params=params)
        return result

    def submit_images(self, count: int = 1, **overrides: Any) -> list[str]:
        """Submit ``count`` async one-image DALL·E 2 tasks (100 per POST, the API's limit); their UUIDs."""
        uuids = [str(uuid.uuid4()) for _ in range(count)]
        for start in range(0, count, 100):
            tasks = [
                {
                    "taskType": "imageInference",
                    "taskUUID": task_uuid,
                    "model": "openai:2@2",
                    "positivePrompt": "a lamp",
                    "width": 256,
                    "height": 256,
                    "deliveryMethod": "async",
                    "includeCost": True,
                    **overrides,
                }
                for task_uuid in uuids[start : start + 100]
            ]
            assert self.post(tasks).status_code == 200
        return uuids

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


@contextlib.contextmanager
def running_emulator(
    api_key: str = EMULATOR_API_KEY, *extra_args: str, on_start: Callable[[Spawned], None] | None = None
) -> Iterator[EmulatorHandle]:
    """Start ``python -m airflow_provider_runware.emulator`` on a free loopback port; stop it after.

    ``extra_args`` go to the command line (e.g. ``"--today", BEFORE_DALLE2_RETIREMENT``)."""
    command = [sys.executable, "-m", "airflow_provider_runware.emulator", "--host", "127.0.0.1"]
    with (
        tempfile.TemporaryDirectory(prefix="runware-emulator-") as tmp,
        serving(
            "emulator",
            lambda port: [*command, "--port", str(port), "--api-key", api_key, *extra_args],
            Path(tmp) / "emulator.log",
            health="/_emulator/health",
            cwd=REPO_ROOT,
            interval=0.05,
            on_start=on_start,
        ) as root_url,
    ):
        yield EmulatorHandle(root_url=root_url, api_key=api_key)
