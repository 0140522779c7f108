"""Take the README's screenshots (docs/img/) from a running demo, and time its first retrain.

    make demo                                  # in one terminal (or: manage.py rundemo)
    .venv/bin/python docs/screenshots.py [--url http://127.0.0.1:8000] [--label 6]

1. Two simulated annotators (the demo's `annotator` and `annotator2`) take `--label` tasks each
   through the REST API and rate them as ProcessBench's experts did (demo/data/: every step
   before the first error Positive, the first error Negative), `annotator2` rating the first
   step Neutral on every third task, so agreement is real but not perfect. Screening questions
   come first, as for a person. This passes the demo's retrain trigger (5 labelings).
2. The lead's pages are photographed while the first run trains and scores, then once it has
   published the next generation; the script prints how long that first run took (queued to
   published), the figure the README quotes.
3. The annotator's task page, with two steps rated by keyboard. `--task-page-only` takes just
   this one (any web server with the demo data: `manage.py load_demo`, then `runserver`).

Playwright drives the system Chromium (/usr/bin/chromium, or CHROMIUM_PATH) at 1366x900.
Nothing is faked: every number on the pictures comes from the running demo.
"""

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
DEMO_PROJECT = "MATH demo (ProcessBench solutions)"
VIEWPORT = {"width": 1366, "height": 900}
RUN_TIMEOUT_SECONDS = 30 * 60


def get_json(api, path: str, headers: dict):
    """GET with a retry: a kept-alive connection the server has just closed resets once."""
    for attempt in range(3):
        try:
            return api.get(path, headers=headers).json()
        except Exception:
            if attempt == 2:
                raise
            time.sleep(1)


def expert_labels() -> dict[tuple[str, ...], int]:
    """ProcessBench's first-error label of each demo solution, by its steps."""
    records = json.loads((ROOT / "demo" / "data" / "processbench_math.json").read_text())
    return {tuple(r["steps"]): r["label"] for r in records}


def ratings_for(steps: list[str], first_error: int, *, disagree: bool) -> tuple[list, str]:
    """Ratings up to the first error (or all Positive) and the matching finish reason."""
    count = len(steps) if first_error < 0 else first_error + 1
    ratings = [-1 if i == first_error else 1 for i in range(count)]
    if disagree and ratings[0] == 1 and len(ratings) > 1:
        ratings[0] = 0
    reason = "found_error" if first_error >= 0 else "solution"
    return [{"rating": r, "flagged": False} for r in ratings], reason


def label_as(api, username: str, password: str, project: int, count: int, labels: dict) -> int:
    token = api.post("/api/auth/token/", data={"username": username, "password": password})
    assert token.ok, token.text()
    headers = {"Authorization": f"Token {token.json()['key']}"}
    done = 0
    while done < count:
        task = api.post("/api/assignments/next/", data={"project": project}, headers=headers)
        if task.status == 204:
            break
        assert task.ok, task.text()
        task_id, kind = task.json()["id"], task.json()["kind"]
        detail = api.get(f"/api/assignments/{task_id}/", headers=headers).json()
        first_error = labels.get(tuple(detail["steps"]), -1)
        disagree = username == "annotator2" and done % 3 == 0 and kind == "task"
        steps, reason = ratings_for(detail["steps"], first_error, disagree=disagree)
        saved = api.put(
            f"/api/assignments/{task_id}/draft/",
            data={"steps": steps, "total_time_ms": 20000 + 9000 * len(steps)},
            headers=headers,
        )
        assert saved.ok, saved.text()
        submitted = api.post(
            f"/api/assignments/{task_id}/submit/", data={"finish_reason": reason}, headers=headers
        )
        assert submitted.ok, submitted.text()
        if kind == "task":
            done += 1
    return done


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(lambda url: "/accounts/" not in url)


def shoot(page, path: str, name: str, full_page: bool = False) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # charts draw after load
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)
    print(f"docs/img/{name}.png  {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--logins", type=Path, default=ROOT / "var" / "demo_logins.json")
    parser.add_argument("--label", type=int, default=6, help="tasks per simulated annotator")
    parser.add_argument(
        "--task-page-only",
        action="store_true",
        help="refresh docs/img/task-page.png only (a web server with the demo data is enough: "
        "no labeling, no retrain)",
    )
    args = parser.parse_args()
    logins = json.loads(args.logins.read_text())
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    OUT.mkdir(parents=True, exist_ok=True)
    if args.task_page_only:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            shoot_task_page(browser, args.url, logins)
            browser.close()
        return
    with sync_playwright() as playwright:
        api = playwright.request.new_context(base_url=args.url)
        token = api.post(
            "/api/auth/token/", data={"username": "lead", "password": logins["lead"]}
        ).json()
        lead_headers = {"Authorization": f"Token {token['key']}"}
        projects = get_json(api, "/api/projects/", lead_headers)
        project = next(p["id"] for p in projects if p["name"] == DEMO_PROJECT)
        labels = expert_labels()
        started = time.monotonic()
        for username in ("annotator", "annotator2"):
            n = label_as(api, username, logins[username], project, args.label, labels)
            print(f"{username}: {n} tasks labeled")

        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        lead = browser.new_context(base_url=args.url, viewport=VIEWPORT).new_page()
        log_in(lead, "lead", logins["lead"])
        runs = []
        while not runs and time.monotonic() - started < 120:
            runs = get_json(api, f"/api/projects/{project}/runs/", lead_headers)
            runs = runs.get("results", runs) if isinstance(runs, dict) else runs
            time.sleep(1)
        if runs:
            time.sleep(5)
            shoot(lead, f"/projects/{project}/loop/", "loop-running")
        run = runs[0] if runs else None
        while run and run["status"] not in ("succeeded", "failed", "cancelled"):
            if time.monotonic() - started > RUN_TIMEOUT_SECONDS:
                sys.exit(f"run {run['id']} did not finish within {RUN_TIMEOUT_SECONDS} s")
            time.sleep(2)
            run = get_json(api, f"/api/runs/{run['id']}/", lead_headers)
        if run:
            print(
                f"first retrain: run {run['id']} {run['status']}, triggered after the labels, "
                f"started {run['started_at']}, finished {run['finished_at']}; "
                f"{time.monotonic() - started:.0f} s from the first label to published"
            )
        shoot(lead, f"/projects/{project}/loop/", "loop")
        shoot(lead, f"/projects/{project}/generations/", "generations")
        shoot(lead, f"/projects/{project}/stats/", "statistics", full_page=True)
        shoot(lead, f"/projects/{project}/queue/", "queue")
        shoot(lead, f"/projects/{project}/members/", "members")
        # an export, so the data page shows a finished job
        lead.goto(f"/projects/{project}/data/")
        lead.get_by_label("Format").select_option("prm800k")
        lead.get_by_role("button", name="Start export").click()
        lead.wait_for_selector("[data-testid=exports] [data-status]:text-matches('done')")
        shoot(lead, f"/projects/{project}/data/", "import-export", full_page=True)

        shoot_task_page(browser, args.url, logins)
        browser.close()


def shoot_task_page(browser, url: str, logins: dict) -> None:
    """The annotator's task page with two steps rated by keyboard (docs/img/task-page.png)."""
    annotator = browser.new_context(base_url=url, viewport=VIEWPORT).new_page()
    log_in(annotator, "annotator", logins["annotator"])
    annotator.get_by_role("button", name="Start labeling").first.click()
    annotator.wait_for_url("**/tasks/*/")
    annotator.wait_for_timeout(500)
    annotator.keyboard.press("3")
    annotator.keyboard.press("3")
    annotator.wait_for_selector("[data-role=save-status][data-state=saved]")
    annotator.evaluate("window.scrollTo(0, 0)")  # the problem and its answer on top
    annotator.wait_for_timeout(500)
    annotator.screenshot(path=str(OUT / "task-page.png"))
    print("docs/img/task-page.png")


if __name__ == "__main__":
    main()
