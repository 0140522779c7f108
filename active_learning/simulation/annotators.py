"""The platform side: a fresh project per strategy holding the pool, its candidates and
generations, and simulated annotators who label through the real labeling API."""

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.urls import reverse

from active_learning import selection
from active_learning.models import LoopSettings
from active_learning.simulation.config import SimulationError
from active_learning.simulation.data import Oracle
from labeling.answers import final_answer
from labeling.models import (
    Generation,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Problem,
    Project,
    Role,
    Solution,
)
from labeling.services.prm800k import sha256, steps_hash
from labeling.services.users import user_create

# --- the platform side --------------------------------------------------------------------------


def project_create(name: str, pool: list[dict]) -> Project:
    """A fresh project with the pool as candidate solutions (in no generation yet)."""
    if Project.objects.filter(name=name).exists():
        raise SimulationError(f"project {name!r} already exists; pick another --label")
    with transaction.atomic():
        project = Project.objects.create(
            name=name,
            description="Active-learning simulation (simulate_active_learning).",
            overlap=1,
            qc_rate=0.0,
        )
        problems = {}
        for record in pool:
            if record["problem"] not in problems:
                problems[record["problem"]] = Problem(
                    project=project, text=record["problem"], text_hash=sha256(record["problem"])
                )
        Problem.objects.bulk_create(problems.values())
        solutions, seen = [], set()
        for record in pool:
            digest = steps_hash(record["steps"])
            if (record["problem"], digest) in seen:
                continue
            seen.add((record["problem"], digest))
            solutions.append(
                Solution(
                    project=project,
                    problem=problems[record["problem"]],
                    steps=record["steps"],
                    steps_hash=digest,
                    final_answer=final_answer(record["steps"]),
                    generator=record.get("generator") or "",
                    source="processbench",
                    external_id=f"{record['file']}:{record.get('id', '')}",
                    is_correct=record.get("final_answer_correct"),
                )
            )
        Solution.objects.bulk_create(solutions)
        # The simulation runs the rounds itself: no label-count or scheduled trigger.
        LoopSettings.objects.create(project=project, retrain_every=0, schedule_enabled=False)
    return project


def candidates(project: Project) -> list[selection.Candidate]:
    """Pool solutions neither labeled nor queued, with the current model's score."""
    queued = GenerationItem.objects.filter(solution=OuterRef("pk"))
    labeled = Labeling.objects.filter(solution=OuterRef("pk")).exclude(
        status=LabelingStatus.ABANDONED
    )
    rows = (
        Solution.objects.filter(project=project)
        .filter(~Exists(queued), ~Exists(labeled))
        .values_list("pk", "problem_id", "prm_score", "is_correct")
    )
    return [
        selection.Candidate(pk, problem, score, correct) for pk, problem, score, correct in rows
    ]


def generation_publish(
    project: Project, picks: list[selection.Candidate], strategy: str, params: dict
) -> Generation:
    """A new generation with the picks in serving order (rank 1 first)."""
    with transaction.atomic():
        top = Generation.objects.filter(project=project).aggregate(top=Max("number"))["top"]
        generation = Generation.objects.create(
            project=project,
            number=max(0, (top if top is not None else -1) + 1),
            strategy=strategy,
            params=params,
        )
        GenerationItem.objects.bulk_create(
            GenerationItem(generation=generation, solution_id=c.solution_id, rank=i, score=c.score)
            for i, c in enumerate(picks, start=1)
        )
    return generation


class Annotators:
    """Simulated annotators: users with API tokens who label through the REST API."""

    def __init__(self, project: Project, count: int, oracle: Oracle):
        from rest_framework.test import APIClient

        self.project, self.oracle = project, oracle
        host = next(
            (h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")),
            "localhost",
        )
        self.clients = []
        for i in range(count):
            user, token = user_create(
                username=f"sim{project.pk}-annotator{i + 1}", role=Role.ANNOTATOR, project=project
            )
            client = APIClient(HTTP_HOST=host)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            self.clients.append((user, client))

    def _call(self, client, method: str, url: str, data=None, expect=(200,)):
        # as a deployed client calls it: over HTTPS, with its token
        response = getattr(client, method)(url, data, format="json", secure=True)
        if response.status_code not in expect:
            body = getattr(response, "data", None) or response.content[:500]
            raise SimulationError(f"{method.upper()} {url}: HTTP {response.status_code} {body}")
        return response

    def label_all(self) -> int:
        """Annotators take turns asking for the next task until none is left; returns how many
        labelings they submitted."""
        submitted = 0
        active = list(self.clients)
        while active:
            for user, client in list(active):
                response = self._call(
                    client,
                    "post",
                    reverse("api-assignment-next"),
                    {"project": self.project.pk},
                    expect=(200, 204),
                )
                if response.status_code == 204:
                    active.remove((user, client))
                    continue
                task = response.data["id"]
                detail = self._call(client, "get", reverse("api-assignment-detail", args=[task]))
                marks, finish = self.oracle.answer(
                    detail.data["problem"]["text"], detail.data["steps"]
                )
                spent = 20000 * len(marks)  # a nominal 20 s per rated step
                self._call(
                    client,
                    "put",
                    reverse("api-assignment-draft", args=[task]),
                    {"steps": marks, "total_time_ms": spent},
                )
                self._call(
                    client,
                    "post",
                    reverse("api-assignment-submit", args=[task]),
                    {"finish_reason": finish, "total_time_ms": spent},
                )
                submitted += 1
        return submitted
