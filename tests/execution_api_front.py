"""A loopback HTTP front for the api-server's execution API, where task supervisors send their calls.

Task supervisors reach Airflow's metadata DB only through the execution API, so a metadata DB that
fails or hangs looks to them like that API answering 500 or not at all. This front forwards every call
unchanged to the real api-server, except what a test arms it to disturb, for **one task instance try**
(each try has its own id, the JWT's ``sub``): the first try that writes a Runware ledger after arming.

- ``fail_ledger_writes(passing=N)``: that try's first N ledger writes pass, the later ones are answered
  HTTP 500, as the api-server answers when its database is down (the task SDK retries them first);
- ``hold_ledger_writes()``: that try's ledger writes wait, unanswered, until ``release()``, and its
  heartbeats are answered 500, as when the api-server's database hangs: the scheduler then takes the
  try for dead and starts the next one while this one still runs.

A ledger write is the task-state-store PUT of key ``runware_images`` (Airflow 3.3+) or the PUT of a
Variable named ``runware_ledger_*`` (below 3.3).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from airflow_provider_runware.run.ledger_home import TASK_STATE_KEY, VARIABLE_PREFIX

LEDGER_WRITE = re.compile(rf"/execution/(store/ti/[^/]+/{TASK_STATE_KEY}|variables/{VARIABLE_PREFIX}\w+)$")
HEARTBEAT = re.compile(r"/execution/task-instances/[^/]+/heartbeat$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}
DB_DOWN_BODY = json.dumps({"detail": "Internal Server Error"}).encode()
HOLD_LIMIT_SECONDS = 300.0


def caller(headers: Any) -> str | None:
    """The task instance try a call comes from: the ``sub`` of its execution-API JWT (unverified)."""
    scheme, _, token = str(headers.get("Authorization") or "").partition(" ")
    parts = token.split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    with contextlib.suppress(ValueError):
        sub = json.loads(base64.urlsafe_b64decode(payload)).get("sub")
        return str(sub) if sub else None
    return None


@dataclass
class FrontEvent:
    """One disturbed call: whose, what, and how it was answered (``held`` until released)."""

    ti_id: str
    what: str
    outcome: str


@dataclass
class ExecutionApiFront:
    upstream: str
    mode: str | None = None
    passing: int = 0
    victim: str | None = None
    events: list[FrontEvent] = field(default_factory=list)
    _passed: int = 0
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ----- what a test arms --------------------------------------------------------------------

    def fail_ledger_writes(self, passing: int = 0) -> None:
        self._arm("fail", passing)

    def hold_ledger_writes(self) -> None:
        self._arm("hold", 0)

    def release(self) -> None:
        """Forward the held writes and stop disturbing anything."""
        with self._lock:
            self.mode = None
        self._released.set()

    def writes(self, outcome: str) -> list[FrontEvent]:
        return [e for e in self.events if e.what == "ledger write" and e.outcome == outcome]

    def _arm(self, mode: str, passing: int) -> None:
        with self._lock:
            self.mode, self.passing, self.victim, self._passed = mode, passing, None, 0
            self._released.clear()

    # ----- per call ----------------------------------------------------------------------------

    def disturbance(self, method: str, path: str, ti_id: str | None) -> str | None:
        """``"fail"``, ``"hold"`` or ``None`` (forward) for this call."""
        with self._lock:
            if self.mode is None or ti_id is None:
                return None
            if method == "PUT" and LEDGER_WRITE.search(path):
                if self.victim is None:
                    self.victim = ti_id
                if ti_id != self.victim:
                    return None
                if self.mode == "fail" and self._passed < self.passing:
                    self._passed += 1
                    return None
                self.events.append(FrontEvent(ti_id, "ledger write", self.mode))
                return self.mode
            if self.mode == "hold" and ti_id == self.victim and HEARTBEAT.search(path):
                self.events.append(FrontEvent(ti_id, "heartbeat", "fail"))
                return "fail"
            return None

    def wait_for_release(self) -> None:
        self._released.wait(HOLD_LIMIT_SECONDS)


def _handler(front: ExecutionApiFront, client: httpx.Client) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            disturbance = front.disturbance(self.command, self.path.split("?")[0], caller(self.headers))
            if disturbance == "fail":
                self._answer(500, {"content-type": "application/json"}, DB_DOWN_BODY)
                return
            if disturbance == "hold":
                front.wait_for_release()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            try:
                url = front.upstream + self.path
                answer = client.request(self.command, url, headers=headers, content=body)
            except httpx.HTTPError:
                self._answer(502, {}, b"")
                return
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            self._answer(answer.status_code, kept, answer.content)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            with contextlib.suppress(OSError):  # a caller that gave up on a held call
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the api-server logs every call already."""

    return Handler


@contextlib.contextmanager
def execution_api_front(upstream_port: int, port: int) -> Iterator[ExecutionApiFront]:
    """Serve the front on ``127.0.0.1:port`` in front of the api-server on ``upstream_port``."""
    front = ExecutionApiFront(upstream=f"http://127.0.0.1:{upstream_port}")
    with httpx.Client(trust_env=False, timeout=60.0) as client:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(front, client))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="execution-api-front", daemon=True)
        thread.start()
        try:
            yield front
        finally:
            front.release()
            server.shutdown()
            server.server_close()
