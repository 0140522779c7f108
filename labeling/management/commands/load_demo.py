"""Load the demo from the repository's own data (demo/data/, see demo/README.md) and its users.

The demo project is set up so that every page has something to show once people label:
two annotators and overlap 2 (agreement needs two people on one solution), a screening set and
gold questions whose gold labels are ProcessBench's expert first-error labels. Idempotent: a
second run adds nothing and prints the same logins.
"""

import io
import json
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction

from labeling.management.commands._base import ServiceCommand
from labeling.models import Generation, GenerationItem, Project, Role, Solution, User
from labeling.record_files import open_input
from labeling.services.phase1 import alternatives_from_labelings, phase1_generation_create
from labeling.services.prm800k import prm800k_import
from labeling.services.problems import problems_import
from labeling.services.projects import project_guidelines_set, project_update
from labeling.services.quality import gold_from_first_error
from labeling.services.solutions import solutions_import
from labeling.services.users import membership_ensure, user_create

DEMO_PROJECT = "MATH demo (ProcessBench solutions)"
SAMPLES_PROJECT = "PRM800K samples"
PHASE1_PROJECT = "Phase 1 demo (rate proposed next steps)"
# Shown on every task of the phase-1 demo project: where its proposed steps come from.
PHASE1_GUIDELINES = """\
PRM800K phase 1: at each step, rate every proposed next step (1 Negative, 2 Neutral,
3 Positive), then continue with one rated Neutral or Positive (Enter) or write your own (w).
End with a step that gives the final answer ("# Answer"), or give up (g).

Where the proposed steps come from: the three phase-1 records of PRM800K's release examples
(OpenAI, MIT): the steps a model proposed to OpenAI's labelers, at the points their labelers
reached. Follow a path they took and you see their proposals. Leave it (or write your own step)
and the page waits while the demo's gpu worker asks the generator, the shipped demo backbone
(SmolLM2-135M, on the CPU: up to a minute or two, longer while the worker finishes another job;
the proposals then say "generator smollm2"). That small model is no mathematician: expect its
steps to be poor, often wrong or off the point. Rate them honestly (Negative is a fine rating)
and write your own step when none is worth continuing with; if the generator fails, the page
says so and you write your own."""
PROBLEMS_FILE = "math_test_problems.jsonl"
SOLUTIONS_FILE = "processbench_math.json"
SAMPLES_FILE = "prm800k_samples.jsonl"
QUALITY_CONTROL_FILE = "quality_control.json"
DEMO_FILES = (PROBLEMS_FILE, SOLUTIONS_FILE, SAMPLES_FILE, QUALITY_CONTROL_FILE)
# Login name -> role. Two annotators: agreement statistics need two people on one solution.
DEMO_USERS = {
    "annotator": Role.ANNOTATOR,
    "annotator2": Role.ANNOTATOR,
    "lead": Role.LEAD,
    "researcher": Role.RESEARCHER,
}
# The author of the gold labels (ProcessBench's expert annotators); cannot log in.
EXPERTS = "processbench-experts"
DEMO_SETTINGS = {
    "overlap": 2,
    # demo users try things out: a lower pass mark than a real project would set, so one slip
    # on the two short screening questions does not lock them out
    "screening_pass_mark": 0.5,
    "qc_rate": 0.10,
    # model-assisted labeling (docs/model-assisted.md): once a run has published a model, its
    # first-error guess shows as a hint on 80% of tasks, the other 20% measure the bias; and
    # up to 10 solutions per generation where people and the model disagree are re-labeled
    "hints_enabled": True,
    "hints_unhinted_share": 0.2,
    "disagreement_budget": 10,
}


def missing_demo_files(folder: Path) -> list[str]:
    """The demo data files absent from `folder` (empty when all are there)."""
    return [name for name in DEMO_FILES if not (folder / name).is_file()]


class Command(ServiceCommand):
    help = "Load the demo data (demo/data: MATH, ProcessBench, PRM800K samples) and its users."

    def handle(self, *args, **options):
        data = Path(settings.DEMO_DATA_DIR)
        missing = missing_demo_files(data)
        if missing:
            raise CommandError(
                f"{data}: demo data missing: {', '.join(missing)} (see demo/README.md; "
                "demo/build_data.py makes them from the full sets)"
            )
        if not Project.objects.filter(name=DEMO_PROJECT).exists():
            self._load_demo_project(data)
        if not Project.objects.filter(name=SAMPLES_PROJECT).exists():
            with open_input(str(data / SAMPLES_FILE)) as stream:
                result = prm800k_import(
                    stream=stream, name=SAMPLES_FILE, project_name=SAMPLES_PROJECT
                )
            self.stdout.write(f"PRM800K samples: {result.summary()}")
        if not Project.objects.filter(name=PHASE1_PROJECT).exists():
            self._load_phase1_project(data)
        logins = self._ensure_users()
        self.stdout.write("\n" + format_logins(logins))

    def _load_demo_project(self, data: Path) -> None:
        # MATH problems first, so ProcessBench's solutions join their reference answers and
        # solutions by problem text.
        result = problems_import(path=str(data / PROBLEMS_FILE), project_name=DEMO_PROJECT)
        self.stdout.write(f"MATH test problems: {result.summary()}")
        result = solutions_import(path=str(data / SOLUTIONS_FILE), project_name=DEMO_PROJECT)
        self.stdout.write(f"ProcessBench MATH solutions: {result.summary()}")
        project = Project.objects.get(name=DEMO_PROJECT)
        project_update(project=project, **DEMO_SETTINGS)
        chosen = json.loads((data / QUALITY_CONTROL_FILE).read_text(encoding="utf-8"))
        screening, gold = quality_control_load(
            project=project, screening=chosen["screening"], gold=chosen["gold"]
        )
        self.stdout.write(
            f"Quality control: {screening} screening questions, {gold} gold questions "
            "(gold labels: ProcessBench's experts)"
        )

    def _load_phase1_project(self, data: Path) -> None:
        """The phase-1 demo: the PRM800K phase-1 records (generation null) imported as history,
        their proposals stored as the alternatives, and their problems queued for phase 1."""
        lines = (data / SAMPLES_FILE).read_bytes().splitlines(keepends=True)
        phase1_lines = [line for line in lines if json.loads(line)["generation"] is None]
        with transaction.atomic():
            prm800k_import(
                stream=io.BytesIO(b"".join(phase1_lines)),
                name=SAMPLES_FILE,
                project_name=PHASE1_PROJECT,
            )
            project = Project.objects.get(name=PHASE1_PROJECT)
            project_update(project=project, phase1_mode=True, phase1_alternatives=5)
            project_guidelines_set(project=project, guidelines=PHASE1_GUIDELINES)
            points = alternatives_from_labelings(project=project)
            generation = phase1_generation_create(project=project)
        self.stdout.write(
            f"Phase 1 demo: {len(phase1_lines)} PRM800K phase-1 records, {points} points with "
            f"proposed steps, {generation.items.count()} problems queued"
        )

    def _ensure_users(self) -> dict[str, str]:
        path = settings.VAR_DIR / "demo_logins.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        projects = list(
            Project.objects.filter(name__in=[DEMO_PROJECT, SAMPLES_PROJECT, PHASE1_PROJECT])
        )
        logins = {}
        for username, role in DEMO_USERS.items():
            password = _saved_password(saved, username) or secrets.token_urlsafe(9)
            user = User.objects.filter(username=username).first()
            if user is None:
                user, _ = user_create(username=username, role=role, password=password)
            elif not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
            for project in projects:
                membership_ensure(user=user, project=project)
            logins[username] = password
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(logins, indent=2))
        return logins


def _saved_password(saved: dict, username: str) -> str | None:
    value = saved.get(username)
    if isinstance(value, list):  # the earlier layout: role -> [username, password]
        return value[1]
    return value


def format_logins(logins: dict[str, str]) -> str:
    """The demo logins as printed at start-up, one line per user."""
    lines = ["Demo logins (also in var/demo_logins.json):"]
    for username, password in logins.items():
        role = DEMO_USERS.get(username, "")
        lines.append(f"  {role:<10}  user {username:<11} password {password}")
    return "\n".join(lines)


def quality_control_load(*, project: Project, screening: list[str], gold: list[str]) -> tuple:
    """Make the ProcessBench solutions named in `screening` the project's screening set and
    those in `gold` gold questions, each with the experts' first-error label as its gold.
    Returns (screening questions, gold questions)."""
    by_id = {
        s.external_id: s
        for s in Solution.objects.filter(project=project, external_id__in=[*screening, *gold])
    }
    unknown = [i for i in [*screening, *gold] if i not in by_id]
    if unknown:
        raise CommandError(f"{QUALITY_CONTROL_FILE}: no such solution: {', '.join(unknown)}")
    experts = User.objects.filter(username=EXPERTS).first()
    if experts is None:
        experts, _ = user_create(username=EXPERTS, role=Role.ANNOTATOR)
    with transaction.atomic():
        screening_set, _ = Generation.objects.get_or_create(
            project=project, number=Generation.SCREENING, defaults={"strategy": "screening"}
        )
        for rank, external_id in enumerate(screening, start=1):
            GenerationItem.objects.get_or_create(
                generation=screening_set, solution=by_id[external_id], defaults={"rank": rank}
            )
        for external_id in [*screening, *gold]:
            solution = by_id[external_id]
            gold_from_first_error(
                solution=solution,
                first_error=solution.metadata["processbench_label"],
                labeler=experts,
            )
    return len(screening), len(gold)
