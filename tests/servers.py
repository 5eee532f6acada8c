"""Local servers for tests: a free loopback port, a subprocess logging to a file, waiting until it answers.

Every server the tests start (the Runware emulator, moto, the GCS emulator, Azurite, Airflow's services)
listens on 127.0.0.1 only and is stopped (terminate, then kill) when the test or session is done with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 4000


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Spawned:
    """A started server process and the file its stdout and stderr go to."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-LOG_TAIL:]


def start(
    name: str,
    command: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Spawned:
    """Run ``command`` in its own session, stdout and stderr to ``log_path``; stop it with :func:`stop`."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            list(command),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            env=env,
        )
    return Spawned(name=name, process=process, log_path=log_path)


def stop(*servers: Spawned, timeout: float = STOP_TIMEOUT) -> list[str]:
    """Terminate them all at once; whichever has not exited within ``timeout`` is killed with its whole
    process group (each runs in its own session, so its workers go too). Returns the names of those."""
    for server in servers:
        server.process.terminate()
    killed = []
    for server in servers:
        try:
            server.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            killed.append(server.name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=timeout)
    return killed


def is_success(response: httpx.Response) -> bool:
    return response.is_success


def wait_until(
    url: str,
    *servers: Spawned,
    ready: Callable[[httpx.Response], bool] = is_success,
    timeout: float = START_TIMEOUT,
    interval: float = 0.1,
) -> None:
    """Poll ``GET url`` until ``ready`` accepts an answer; fail at once if one of ``servers`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for server in servers:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}"
                )
        with contextlib.suppress(httpx.HTTPError):
            if ready(httpx.get(url, timeout=2.0, trust_env=False)):
                return
        time.sleep(interval)
    logs = "\n".join(f"-- {server.name} ({server.log_path}):\n{server.log_tail()}" for server in servers)
    raise RuntimeError(f"{url} not answering after {timeout} s:\n{logs}")


@contextlib.contextmanager
def serving(
    name: str,
    command: Callable[[int], Sequence[str]],
    log_path: Path,
    *,
    health: str = "/",
    ready: Callable[[httpx.Response], bool] = is_success,
    cwd: Path | None = None,
    interval: float = 0.1,
    on_start: Callable[[Spawned], None] | None = None,
) -> Iterator[str]:
    """Run ``command(port)`` for a free loopback port and yield its root URL once ``GET health`` is
    ``ready``; the server is stopped when the ``with`` block ends. ``on_start`` learns the process
    (the chaos campaign checks that nothing it started outlives it)."""
    port = free_port()
    server = start(name, command(port), log_path, cwd=cwd)
    if on_start is not None:
        on_start(server)
    try:
        root_url = f"http://127.0.0.1:{port}"
        wait_until(f"{root_url}{health}", server, ready=ready, interval=interval)
        yield root_url
    finally:
        stop(server)
