"""A throwaway Redis server for the distributed campaign's Celery broker.

Debian's ``redis-server`` (installed by ``scripts/install-redis.sh``, which ``make test`` runs) on a free
loopback port, every setting on its command line (no config file) and no persistence: a restart loses
whatever the broker held, as a Redis run as a plain cache does, so Airflow has to recover queued task
instances whose messages are gone. The campaign restarts it on the same port.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from servers import free_port

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def redis_bin() -> str | None:
    return shutil.which("redis-server")


def _answers_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


@dataclass
class RedisServer:
    port: int
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        binary = redis_bin()
        if binary is None:
            raise RuntimeError("no redis-server installed: run scripts/install-redis.sh (apt redis-server)")
        command = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--protected-mode",
            "yes",
        ]
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self.log_path.read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def running_redis(log_path: Path) -> Iterator[RedisServer]:
    workdir = Path(tempfile.mkdtemp(prefix="runware-chaos-redis-"))
    server = RedisServer(port=free_port(), workdir=workdir, log_path=log_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
