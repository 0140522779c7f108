"""Real Redis and PostgreSQL servers that a test owns: started on a port of their own, restarted
or stopped by the test (a broker restart, a database restart), removed afterwards. The shared
servers on 6379 and 5432 are never touched.

Both need the server binaries (`redis-server`; PostgreSQL's `initdb`/`pg_ctl`), which CI has;
without them the fixture fails in CI and skips elsewhere with the reason printed.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# Ports the tests' own servers try first (a range no shared service uses), then any free port.
REDIS_PORTS = range(6431, 6440)
POSTGRES_PORTS = range(5431, 5440)
START_TIMEOUT = 30.0  # seconds


def _missing(what: str):
    message = f"needs {what}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must run every test with it)")
    pytest.skip(message)


def free_port(preferred: range) -> int:
    for port in [*preferred, 0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


def _wait(predicate, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class RedisServer:
    """A redis-server with append-only persistence (as docker-compose runs it), so a restart
    keeps the queues and the unacknowledged messages, like a real Redis restart."""

    def __init__(self, data_dir: Path):
        if shutil.which("redis-server") is None:
            _missing("redis-server")
        self.dir = data_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port(REDIS_PORTS)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            stdout=open(self.dir / "redis.log", "a"),  # noqa: SIM115 (closed with the process)
            stderr=subprocess.STDOUT,
        )
        _wait(lambda: _port_open(self.port), f"redis-server on port {self.port} accepting")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: Redis flushes its append-only file, then exits)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=START_TIMEOUT)
        self.proc = None

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


class PostgresServer:
    """A PostgreSQL cluster of its own (`initdb` into a temporary folder, run as the `postgres`
    user when the tests run as root, since PostgreSQL refuses to run as root)."""

    def __init__(self):
        self.bin = self._bindir()
        if self.bin is None:
            _missing("PostgreSQL's initdb and pg_ctl")
        # Not under pytest's tmp_path: that is private to root, and the server runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="steplabel-pg-"))
        self.port = free_port(POSTGRES_PORTS)
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(self.dir, 0o700)
        self._run(
            self.bin / "initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres"
        )

    @staticmethod
    def _bindir() -> Path | None:
        found = shutil.which("pg_ctl")
        if found:
            return Path(os.path.realpath(found)).parent
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        return versions[-1].parent if versions else None

    def _run(self, *args) -> None:
        cmd = [str(a) for a in args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd="/")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            self.bin / "pg_ctl",
            "-D",
            self.dir / "data",
            "-o",
            options,
            "-l",
            self.dir / "server.log",
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin / "pg_ctl", "-D", self.dir / "data", "-m", mode, "-w", "stop")

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop(mode="immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


WEB_PORTS = range(8131, 8140)


class WebServer:
    """The app under gunicorn, as production runs it (gthread workers), with `env`."""

    def __init__(self, env: dict, log_path: Path, root: Path, workers: int = 1):
        self.env = env
        self.workers = workers
        self.log_path = log_path
        self.root = root
        self.port = free_port(WEB_PORTS)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "config.wsgi",
                *("--bind", f"127.0.0.1:{self.port}"),
                *("--workers", str(self.workers), "--worker-class", "gthread", "--threads", "4"),
                *("--timeout", "60", "--graceful-timeout", "5"),
            ],
            cwd=self.root,
            env=self.env,
            stdout=open(self.log_path, "a"),  # noqa: SIM115 (closed with the process)
            stderr=subprocess.STDOUT,
        )
        _wait(lambda: _port_open(self.port), f"gunicorn on port {self.port} accepting", 60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
