#!/usr/bin/env python
"""The bad-input table of docs/reliability.md: each bad input of issue 13 sent the way a user
sends it (an import command, an API request), on SQLite and on PostgreSQL, with what came back
and what was stored.

    .venv/bin/python bench/bad_input_table.py          # prints the Markdown table
    .venv/bin/python bench/bad_input_table.py --huge   # also the million-step records

Each database is fresh: an SQLite file, and a PostgreSQL cluster of its own
(tests/private_services.py). "stored" counts the project's solutions (or labelings) after the
command: an import that refuses a file must store nothing. The million-step cases need
--huge (they are large files; on a build without size limits they take minutes and GBs).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.private_services import PostgresServer  # noqa: E402

PYTHON = sys.executable
SAMPLES = REPO.parent / "shared" / "data" / "prm800k_samples.jsonl"
TIMEOUT = 300


def solution(steps, problem="What is 1+1?") -> dict:
    return {"problem": problem, "steps": steps, "answer": "2", "reference_answer": "2"}


def cases(huge: bool) -> list[dict]:
    """(name, kind, file text or API call). `kind`: solutions | prm800k | api."""
    sample = SAMPLES.read_text(encoding="utf-8").splitlines()[0]
    record = json.loads(sample)
    out = [
        {
            "name": "lone UTF-16 surrogate `\\ud83d` in a step",
            "kind": "solutions",
            "text": '{"problem": "P", "steps": ["a \\ud83d b", "# Answer\\n\\n2"], "answer": "2"}'
            + "\n",
        },
        {
            "name": "NUL `\\u0000` in a step",
            "kind": "solutions",
            "text": '{"problem": "P", "steps": ["a \\u0000 b", "# Answer\\n\\n2"], "answer": "2"}'
            + "\n",
        },
        {
            "name": "file starting with a UTF-8 byte-order mark",
            "kind": "solutions",
            "text": "\ufeff" + json.dumps(solution(["1 + 1 = 2", "# Answer\n\n2"])) + "\n",
        },
        {
            "name": "PRM800K line with raw non-ASCII (as `jq -c` writes it), then export",
            "kind": "prm800k",
            "text": json.dumps(
                {**record, "question": {**record["question"], "problem": "Is x ≥ 2?"}},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            + "\n",
            "export": True,
        },
        {
            "name": "a 10 MB step text",
            "kind": "solutions",
            "text": json.dumps(solution(["x" * 10_000_000, "# Answer\n\n2"])) + "\n",
        },
        {"name": "`?generation=1e30` on the statistics API", "kind": "api", "call": "stats"},
        {"name": "`qc_pause_min_questions=1000000` in a PATCH", "kind": "api", "call": "patch"},
    ]
    if huge:
        out += [
            {
                "name": "a 1,000,000-step solution",
                "kind": "solutions",
                "text": json.dumps(solution(["1"] * 999_999 + ["# Answer\n\n2"])) + "\n",
            },
            {
                "name": "a 1,000,000-step PRM800K record",
                "kind": "prm800k",
                "text": json.dumps(
                    {
                        **record,
                        "label": {
                            **record["label"],
                            "steps": [record["label"]["steps"][0]] * 1_000_000,
                        },
                    }
                )
                + "\n",
            },
        ]
    return out


API_CODE = """
import json
from django.test import Client
from labeling.models import Project, User
p = Project.objects.get(name="bad")
u, _ = User.objects.get_or_create(username="bad-lead", defaults={"role": "lead", "is_staff": True})
p.members.add(u)
c = Client(HTTP_HOST="localhost")
c.force_login(u)
if CALL == "stats":
    r = c.get(f"/api/projects/{p.pk}/stats/?generation=1e30")
else:
    r = c.patch(f"/api/projects/{p.pk}/", json.dumps({"qc_pause_min_questions": 1000000}),
                content_type="application/json")
print(json.dumps({"status": r.status_code, "body": r.content.decode()[:200]}))
"""


def run(env, args, stdin=None, timeout=TIMEOUT) -> tuple[int, str]:
    try:
        done = subprocess.run(
            [PYTHON, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout} s"
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return done.returncode, (lines[-1] if lines else "")[:160]


def stored(env) -> int:
    code = (
        "from labeling.models import Labeling, Solution; "
        "print(Solution.objects.filter(problem__project__name='bad').count() + "
        "Labeling.objects.filter(project__name='bad').count())"
    )
    return int(run(env, ["manage.py", "shell", "-c", code])[1].split()[-1])


def one_database(env, folder: Path, huge: bool) -> list[str]:
    run(env, ["manage.py", "migrate", "-v0"], timeout=600)
    run(env, ["manage.py", "shell", "-c", "from labeling.models import Project as P; "
              "P.objects.create(name='bad')"])  # fmt: skip
    results = []
    for i, case in enumerate(cases(huge)):
        before = stored(env)
        if case["kind"] == "api":
            rc, line = run(env, ["manage.py", "shell", "-c", f"CALL={case['call']!r}\n{API_CODE}"])
            try:
                answer = json.loads(line)
                results.append(f"{answer['status']}: {answer['body'][:80]}")
            except ValueError:
                results.append(f"exit {rc}: {line}")
            continue
        path = folder / f"case{i}.jsonl"
        path.write_bytes(case["text"].encode("utf-8", "surrogatepass"))
        command = "import_solutions" if case["kind"] == "solutions" else "import_prm800k"
        rc, line = run(env, ["manage.py", command, str(path), "--project", "bad"])
        text = f"exit {rc}: {line}; stored {stored(env) - before}"
        if case.get("export") and rc == 0:
            out = folder / f"case{i}.export.jsonl"
            erc, _ = run(env, ["manage.py", "export_prm800k", "--project", "bad", str(out)])
            same = out.exists() and out.read_bytes() == path.read_bytes()
            text += f"; export exit {erc}, byte for byte: {'yes' if same else 'NO'}"
        results.append(text)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--huge", action="store_true", help="also the million-step records")
    args = ap.parse_args(argv)
    base = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DJANGO_DEBUG": "0"}
    base.pop("REDIS_URL", None)
    base.pop("CACHE_URL", None)
    with tempfile.TemporaryDirectory(prefix="bad-input-") as tmp:
        folder = Path(tmp)
        (folder / "broker" / "queue").mkdir(parents=True)
        (folder / "broker" / "processed").mkdir(parents=True)
        base["CELERY_BROKER_DIR"] = str(folder / "broker")
        sqlite = one_database(
            {**base, "DATABASE_URL": f"sqlite:///{folder / 'bad.sqlite3'}"}, folder, args.huge
        )
        pg = PostgresServer()
        try:
            pg.start()
            postgres = one_database({**base, "DATABASE_URL": pg.url}, folder, args.huge)
        finally:
            pg.remove()
    print("| bad input | SQLite | PostgreSQL | same |")
    print("|---|---|---|---|")
    for case, a, b in zip(cases(args.huge), sqlite, postgres, strict=True):
        # the generation a file lands in depends on what imported before it
        same = re.sub(r"generation \d+", "", a) == re.sub(r"generation \d+", "", b)
        print(f"| {case['name']} | {a} | {b} | {'yes' if same else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
