"""Steps of the end-to-end loop test, run in separate processes against the shared, committed
test database (`python -m tests.active_learning.loop_scenario COMMAND JSON`): set a project up,
label through the REST API as an annotator would, trigger, read back states. Each prints one
JSON line."""

import json
import sys


def setup(args: dict) -> dict:
    # Factory sequences restart in every process: start this one's where no other can be.
    import random

    import factory

    from active_learning.models import LoopSettings
    from active_learning.prm.model import tiny_model
    from labeling.models import Membership, Role, User
    from tests import factories
    from tests.active_learning.conftest import loop_project
    from tests.active_learning.prm.conftest import byte_tokenizer

    offset = random.SystemRandom().randrange(10**9)
    for value in vars(factories).values():
        if isinstance(value, type) and issubclass(value, factory.django.DjangoModelFactory):
            value.reset_sequence(offset)

    tokenizer = byte_tokenizer()
    tiny_model(tokenizer).save_pretrained(args["backbone"])
    tokenizer.save_pretrained(args["backbone"])
    project, _ = loop_project(
        args["backbone"], labeled=args.get("labeled", 30), problems=6, per_problem=5
    )
    project.qc_rate = 0
    project.save()
    LoopSettings.objects.filter(project=project).update(**args.get("settings", {}))
    user = User.objects.create_user(
        username=f"annotator-{project.pk}", password="pw", role=Role.ANNOTATOR
    )
    Membership.objects.create(project=project, user=user)
    if args.get("earlier_run"):  # as if a run had just used every label so far
        from active_learning.loop.candidates import submitted_labelings
        from active_learning.models import Run

        Run.objects.create(
            project=project,
            trigger="lead",
            status="succeeded",
            stage="done",
            labels_at_trigger=submitted_labelings(project),
        )
    return {"project": project.pk, "name": project.name, "annotator": user.username}


def tiny_generator(args: dict) -> dict:
    """Save a tiny random causal LM (byte tokenizer) to args["folder"] for the generator."""
    from active_learning.generator.sampling import tiny_causal_lm
    from tests.active_learning.prm.conftest import byte_tokenizer

    tokenizer = byte_tokenizer()
    tiny_causal_lm(tokenizer).save_pretrained(args["folder"])
    tokenizer.save_pretrained(args["folder"])
    return {"folder": args["folder"]}


def _client(username: str):
    from django.test import Client

    from labeling.models import User

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(username=username))
    return client


def label(args: dict) -> dict:
    """Take `count` tasks through the API and submit each (every step positive)."""
    client = _client(args["annotator"])
    done = []
    for _ in range(args["count"]):
        task = client.post(
            "/api/assignments/next/", {"project": args["project"]}, content_type="application/json"
        )
        assert task.status_code == 200, task.content
        task_id = task.json()["id"]
        steps = client.get(f"/api/assignments/{task_id}/").json()["steps"]
        saved = client.put(
            f"/api/assignments/{task_id}/draft/",
            {"steps": [{"rating": 1, "flagged": False}] * len(steps)},
            content_type="application/json",
        )
        assert saved.status_code == 200, saved.content
        submitted = client.post(
            f"/api/assignments/{task_id}/submit/",
            {"finish_reason": "solution"},
            content_type="application/json",
        )
        assert submitted.status_code == 200, submitted.content
        done.append(task_id)
    return {"submitted": done}


def next_task(args: dict) -> dict:
    from labeling.models import Labeling

    client = _client(args["annotator"])
    task = client.post(
        "/api/assignments/next/", {"project": args["project"]}, content_type="application/json"
    )
    assert task.status_code == 200, task.content
    labeling = Labeling.objects.select_related("generation").get(pk=task.json()["id"])
    return {
        "generation": labeling.generation.number,
        "solution": labeling.solution_id,
        "verifier_score": labeling.verifier_score,
    }


def trigger(args: dict) -> dict:
    from active_learning.loop import triggers
    from labeling.models import Project

    run = triggers.run_trigger(
        project=Project.objects.get(pk=args["project"]),
        trigger="command",
        params=args.get("params"),
    )
    return {"run": run.pk}


def retry(args: dict) -> dict:
    from active_learning.loop import triggers
    from active_learning.models import Run

    return {"run": triggers.run_retry(run=Run.objects.get(pk=args["run"])).pk}


def watchdog(args: dict) -> dict:
    from active_learning.loop import runs

    return {"failed": runs.runs_fail_stale()}


def state(args: dict) -> dict:
    from active_learning.models import ModelVersion, Run
    from labeling.models import Generation, Solution

    project = args["project"]
    runs = [
        {
            "id": r.pk,
            "status": r.status,
            "stage": r.stage,
            "percent": r.percent,
            "error": r.error,
            "log": r.log,
            "model_version": r.model_version_id,
            "generation": r.generation.number if r.generation else None,
            "chunks_done": r.chunks.filter(done=True).count(),
            "chunks_total": r.chunks_total,
            "stage_seconds": r.stage_seconds,
            "throughput": r.throughput,
        }
        for r in Run.objects.filter(project_id=project).order_by("id")
    ]
    current = ModelVersion.objects.filter(project_id=project, is_current=True).first()
    newest = Generation.objects.filter(project_id=project).order_by("-number").first()
    return {
        "runs": runs,
        "current_model": current.pk if current else None,
        "versions": list(
            ModelVersion.objects.filter(project_id=project).values_list("pk", "status")
        ),
        "generation": newest.number if newest else None,
        "generated": Solution.objects.filter(project_id=project, source="generated").count(),
    }


def phase1_request(args: dict) -> dict:
    """A phase-1 project with one problem and a request for `k` next steps after an own step
    (alternatives_request: its hook sends the gpu task after the commit, as on the page)."""
    import uuid

    from labeling.models import Problem, Project
    from labeling.services.phase1_alternatives import alternatives_request

    project = Project.objects.create(
        name=f"phase 1 {uuid.uuid4().hex[:8]}", phase1_mode=True, phase1_alternatives=args["k"]
    )
    problem = Problem.objects.create(
        project=project, text="What is $x$ if $x+1=3$?", reference_answer="2"
    )
    row = alternatives_request(problem_id=problem.pk, prefix=["Mine: $x+1=3$."], k=args["k"])
    return {"project": project.pk, "alternatives": row.pk}


def phase1_state(args: dict) -> dict:
    from labeling.models import NextStepAlternatives

    row = NextStepAlternatives.objects.get(pk=args["alternatives"])
    return {"status": row.status, "texts": row.texts, "source": row.source, "error": row.error}


COMMANDS = {
    f.__name__: f
    for f in (
        setup,
        tiny_generator,
        label,
        next_task,
        trigger,
        retry,
        watchdog,
        state,
        phase1_request,
        phase1_state,
    )
}

if __name__ == "__main__":
    import django

    django.setup()
    result = COMMANDS[sys.argv[1]](json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    print(json.dumps(result))
