"""A throwaway PostgreSQL server for Airflow's metadata DB: the database production deployments use.

Debian's server (``postgresql-15``, installed by ``make chaos`` when missing) runs from a temporary data
directory on a free loopback port, with no unix socket, and is stopped (fast shutdown) at the end.
PostgreSQL refuses to run as root, and CI runs as root, so there the server runs as the unprivileged
``postgres`` user that the Debian package creates; the data directory is made under ``/tmp`` (which
that user can reach) and handed to it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import free_port

SERVER_USER = "postgres"
DATABASE = "airflow"
SUPERUSER = "chaos"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
# A disposable cluster: durability settings off, so migrations and the campaign's writes are cheap.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "logging_collector": "off",
}


def server_bin() -> Path | None:
    """The newest installed server's bin directory (``/usr/lib/postgresql/<version>/bin``), if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


@dataclass
class PostgresServer:
    """A running server: its SQLAlchemy URL for Airflow, its postmaster and its data directory. The
    distributed campaign stops and starts it again (same port, same data) for a database outage."""

    url: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    bin_dir: Path
    dsn: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Fast shutdown: open transactions roll back, every client is disconnected, new ones refused."""
        stop_server(self.process)

    def start(self) -> None:
        """Start the stopped server again on its port and wait until it accepts connections."""
        self.process = _spawn(self.bin_dir, self.data_dir, self.port, self.log_path)
        _wait_ready(self.dsn, self.process, self.log_path)


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root to the ``postgres`` user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam(SERVER_USER)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "env": _server_env(user)}


def _server_env(user: pwd.struct_passwd) -> dict[str, str]:
    return {"HOME": user.pw_dir, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def _hand_over(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


def _initdb(bin_dir: Path, data_dir: Path, password: str) -> None:
    password_file = data_dir.parent / "pwfile"
    password_file.write_text(password)
    _hand_over(password_file)
    try:
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            cwd=data_dir.parent,
            **_run_as(),
        )
    finally:
        password_file.unlink()


def _wait_ready(dsn: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    import psycopg2

    deadline = time.monotonic() + START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            psycopg2.connect(dsn, dbname="postgres").close()
            return
        except psycopg2.OperationalError as error:
            last_error = error
            time.sleep(0.2)
    raise RuntimeError(f"postgres not accepting connections after {START_TIMEOUT}s: {last_error}")


def _create_database(dsn: str) -> None:
    import psycopg2

    connection = psycopg2.connect(dsn, dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        connection.close()


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT: roll back open transactions, disconnect clients); SIGKILL as a last resort."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


def _spawn(bin_dir: Path, data_dir: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    settings = [f"-c{key}={value}" for key, value in {**SERVER_SETTINGS, "port": str(port)}.items()]
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data_dir), *settings],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=data_dir.parent,
            **_run_as(),
        )


@contextlib.contextmanager
def running_postgres(log_path: Path) -> Iterator[PostgresServer]:
    """initdb a fresh cluster, start it on 127.0.0.1 with a database ``airflow``; stop and delete it after."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server installed: run `make postgres-server` (apt postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="runware-chaos-pg-"))
    try:
        os.chmod(root, 0o755)
        data_dir = root / "data"
        data_dir.mkdir(mode=0o700)
        _hand_over(data_dir)
        password = secrets.token_hex(16)
        _initdb(bin_dir, data_dir, password)
        port = free_port()
        process = _spawn(bin_dir, data_dir, port, log_path)
        dsn = f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}"
        url = f"postgresql+psycopg2://{SUPERUSER}:{password}@127.0.0.1:{port}/{DATABASE}"
        server = PostgresServer(url, port, data_dir, process, log_path, bin_dir, dsn)
        try:
            _wait_ready(dsn, process, log_path)
            _create_database(dsn)
            yield server
        finally:
            stop_server(server.process)
    finally:
        shutil.rmtree(root, ignore_errors=True)
