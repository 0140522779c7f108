"""Check, before anything is installed, that `make demo` has what it needs; say what is missing.

Runs with any Python 3 (the standard library only), before the virtualenv exists:

    python3 demo/preflight.py [--python PATH] [--addr HOST:PORT]
"""

from __future__ import annotations  # the annotations below on any Python 3

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_FILES = (
    "math_test_problems.jsonl",
    "processbench_math.json",
    "prm800k_samples.jsonl",
    "quality_control.json",
)
NEEDED_PYTHON = (3, 11)


def problems(python: str, addr: str) -> list[str]:
    found = []
    if not python:
        found.append("Python 3.11 not found: install python3.11 (or set PYTHON=/path/to/it)")
    else:
        try:
            done = subprocess.run(
                [python, "-c", "import sys, venv; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
            )
        except OSError as exc:
            done = subprocess.CompletedProcess([python], 127, "", str(exc))
        version = done.stdout.strip()
        if done.returncode == 127:
            found.append(f"{python}: cannot run it ({done.stderr}); set PYTHON=/path/to/python3.11")
        elif done.returncode != 0:
            found.append(f"{python}: cannot create a virtualenv (install python3.11-venv)")
        elif version != str(NEEDED_PYTHON):
            found.append(f"{python} is Python {version}; the project needs 3.11 (set PYTHON=...)")
    data = Path(os.environ.get("DEMO_DATA_DIR") or ROOT / "demo" / "data")
    for name in DEMO_FILES:
        path = data / name
        if not path.is_file():
            found.append(f"{path}: demo data file missing (see demo/README.md)")
        elif path.suffix == ".json":
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                found.append(f"{path}: not valid JSON ({exc})")
    var = ROOT / "var"
    if var.exists() and not os.access(var, os.W_OK):
        found.append(f"{var}: not writable (the demo keeps its database and logs there)")
    host_port = addr_parse(addr)
    if isinstance(host_port, str):
        found.append(host_port)
    else:
        family = socket.AF_INET6 if ":" in host_port[0] else socket.AF_INET
        with socket.socket(family) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(host_port)
            except (OSError, OverflowError, UnicodeError, ValueError) as exc:
                why = getattr(exc, "strerror", None) or str(exc)
                found.append(f"{addr}: cannot listen there ({why}); set DEMO_ADDR")
    return found


def addr_parse(addr: str) -> tuple[str, int] | str:
    """DEMO_ADDR as (host, port), or a sentence saying what is wrong with it: HOST:PORT with a
    non-empty host and a port from 1 to 65535 (port 0, "any free port", would leave the printed
    URL wrong). An IPv6 host is written in brackets, `[::1]:8000` (as gunicorn's --bind and a
    URL take it); the host returned is without them, for a bind with AF_INET6."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host:
        return f"DEMO_ADDR={addr!r}: expected HOST:PORT, e.g. 127.0.0.1:8000"
    if host.startswith("[") and host.endswith("]") and len(host) > 2:
        host = host[1:-1]
    elif ":" in host or "[" in host or "]" in host:
        return f"DEMO_ADDR={addr!r}: write an IPv6 host in brackets, e.g. [::1]:8000"
    if not port.isascii() or not port.isdigit():
        return f"DEMO_ADDR={addr!r}: the port {port!r} is not a number (expected HOST:PORT)"
    if not 1 <= int(port) <= 65535:
        return f"DEMO_ADDR={addr!r}: the port must be from 1 to 65535, not {int(port)}"
    return host, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="")
    parser.add_argument("--addr", default=os.environ.get("DEMO_ADDR", "127.0.0.1:8000"))
    args = parser.parse_args()
    found = problems(args.python, args.addr)
    if found:
        print("make demo cannot start:", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(1)
    print("preflight: Python 3.11, demo data and the demo's address are fine")


if __name__ == "__main__":
    main()
