"""The embedded demo as `make demo` runs it: data and logins loaded, then a web server and a
separate Celery worker process on the no-server filesystem broker."""

import http.cookiejar
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_env(cli_database, tmp_path):
    env = {k: v for k, v in cli_database.items() if k != "REDIS_URL"}
    env["CELERY_BROKER_DIR"] = str(tmp_path / "broker")
    return env


def test_demo_loads_real_data_prints_logins_and_serves_with_a_worker(demo_env, tmp_path):
    load = subprocess.run(
        [sys.executable, "manage.py", "load_demo"],
        cwd=ROOT,
        env=demo_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert load.returncode == 0, load.stderr
    assert "Imported 1000 solutions" in load.stdout or "already" in load.stdout
    logins = dict(re.findall(r"user (\S+)\s+password (\S+)", load.stdout))
    assert set(logins) == {"annotator", "lead", "researcher"}
    again = subprocess.run(
        [sys.executable, "manage.py", "load_demo"],
        cwd=ROOT,
        env=demo_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dict(re.findall(r"user (\S+)\s+password (\S+)", again.stdout)) == logins

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "rundemo", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=demo_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True)
    reader.start()
    try:
        base = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        deadline = time.monotonic() + 60
        while True:
            try:
                page = opener.open(f"{base}/accounts/login/", timeout=5).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": "lead", "password": logins["lead"]}
        ).encode()
        home = (
            opener.open(
                urllib.request.Request(
                    f"{base}/accounts/login/",
                    data=body,
                    headers={"Referer": f"{base}/accounts/login/"},
                ),
                timeout=10,
            )
            .read()
            .decode()
        )
        assert "MATH demo (ProcessBench solutions)" in home and "PRM800K samples" in home
        # the worker is a separate process that comes up on the filesystem broker
        workers = subprocess.run(
            ["pgrep", "-f", "-P", str(server.pid), "celery"], capture_output=True, text=True
        )
        assert workers.stdout.strip(), "no Celery worker child process"
        deadline = time.monotonic() + 60
        while not any("ready." in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert any("ready." in line for line in lines), "".join(lines)[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=30)
        reader.join(timeout=10)
