"""`make demo`'s preflight (demo/preflight.py): what an install cannot fix is reported before
the install. Issue 14: a clone without ../shared/data failed after the 7-minute install and the
migrations with "the shared data folder is missing"."""

import shutil
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def preflight(*args, env=None):
    return subprocess.run(
        [sys.executable, "demo/preflight.py", "--python", sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )


def free_addr() -> str:
    """127.0.0.1 and a port that is free now (the preflight refuses port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_the_repository_carries_everything_the_demo_needs():
    done = preflight("--addr", free_addr())
    assert done.returncode == 0, done.stderr


def test_missing_demo_data_and_a_taken_port_are_reported_before_anything_is_installed(
    tmp_path, monkeypatch
):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "demo" / "data", data)
    (data / "processbench_math.json").unlink()
    (data / "quality_control.json").write_text("{not json")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = preflight(
            "--addr", f"127.0.0.1:{port}", env={"PATH": "/usr/bin:/bin", "DEMO_DATA_DIR": str(data)}
        )
    assert done.returncode == 1
    assert "processbench_math.json: demo data file missing" in done.stderr
    assert "quality_control.json: not valid JSON" in done.stderr
    assert f"127.0.0.1:{port}: cannot listen there" in done.stderr


def test_a_python_other_than_3_11_is_named(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho '(3, 9)'\n")
    fake.chmod(0o755)
    done = subprocess.run(
        [sys.executable, "demo/preflight.py", "--python", str(fake), "--addr", free_addr()],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "is Python (3, 9); the project needs 3.11" in done.stderr


@pytest.mark.parametrize(
    ("addr", "said"),
    [
        ("127.0.0.1:99999", "the port must be from 1 to 65535, not 99999"),
        ("127.0.0.1:0", "the port must be from 1 to 65535, not 0"),
        ("127.0.0.1:http", "the port 'http' is not a number"),
        ("127.0.0.1:", "the port '' is not a number"),
        (":8000", "expected HOST:PORT"),
        ("8000", "expected HOST:PORT"),
        ("no-such-host.invalid:8000", "no-such-host.invalid:8000: cannot listen there"),
        ("::1:8000", "write an IPv6 host in brackets, e.g. [::1]:8000"),
        ("[::1:8000", "write an IPv6 host in brackets"),
        ("[]:8000", "write an IPv6 host in brackets"),
    ],
)
def test_a_bad_demo_addr_is_named_not_a_traceback(addr, said):
    """Would catch the breaker's DEMO_ADDR=127.0.0.1:99999 ending in an OverflowError
    traceback (issue 14), and any other address that crashes the check instead of naming it."""
    done = preflight("--addr", addr)
    assert done.returncode == 1, done.stdout
    assert "make demo cannot start:" in done.stderr
    assert said in done.stderr
    assert "Traceback" not in done.stderr


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_a_bracketed_ipv6_addr_is_checked_as_ipv6():
    """Would catch DEMO_ADDR='[::1]:8125' (the form gunicorn's --bind and a URL take) being
    refused with "cannot listen there (Name or service not known)": the brackets are stripped
    and the port tried with AF_INET6, so a free one passes and a taken one is named."""
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        port = sock.getsockname()[1]
    done = preflight("--addr", f"[::1]:{port}")
    assert done.returncode == 0, done.stderr
    with socket.socket(socket.AF_INET6) as taken:
        taken.bind(("::1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = preflight("--addr", f"[::1]:{port}")
    assert done.returncode == 1
    assert f"[::1]:{port}: cannot listen there (Address already in use)" in done.stderr


def test_make_demo_runs_the_preflight_before_the_install():
    dry = subprocess.run(
        ["make", "-n", "demo", "PYTHON=python3"], cwd=ROOT, capture_output=True, text=True
    )
    lines = dry.stdout.splitlines()
    first_check = next(i for i, line in enumerate(lines) if "demo/preflight.py" in line)
    install = next((i for i, line in enumerate(lines) if "pip install" in line), len(lines))
    assert first_check < install


def test_the_install_silences_only_setuptools_editable_notice():
    """Would catch the editable install printing setuptools' "Editable installation" warning
    block again (issue 14), or a filter that silences every warning of the install."""
    dry = subprocess.run(
        ["make", "-n", "-B", "install", "PYTHON=python3"], cwd=ROOT, capture_output=True, text=True
    )
    editable = next(line for line in dry.stdout.splitlines() if "pip install --quiet -e" in line)
    assert 'PYTHONWARNINGS="ignore:Editable installation:UserWarning"' in editable
