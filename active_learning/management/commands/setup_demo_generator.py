"""The demo's generator run (issue 18 point 5): a small project of MATH test problems and one
generator run with the shipped backbone, queued for the demo's gpu worker on CPU.

SmolLM2-135M-Instruct is a 135M chat model, not a mathematician: its solutions are mostly wrong
or without a final answer, and the page says so. The run shows the path (prompt, sampling,
parsing, grading, storing) and its throughput, in a few minutes on a laptop CPU: 4 problems x 2
samples of at most 192 new tokens. Idempotent: the project and its run are made once.
"""

import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from active_learning.models import Run, RunTrigger
from labeling.models import Project, User
from labeling.services.problems import problems_import
from labeling.services.users import membership_ensure

DEMO_GENERATOR_PROJECT = "MATH demo: generated solutions (SmolLM2, CPU)"
DEMO_PROBLEMS = 4
DEMO_OPTIONS = {
    "model": "smollm2",
    "samples_per_problem": 2,
    "max_new_tokens": 192,
    "batch_size": 8,
    "temperature": 0.7,
    "seed": 0,
}
DEMO_USERS = ("lead", "researcher")


class Command(BaseCommand):
    help = "Create the demo's generator project and queue its one generator run (CPU, minutes)."

    def handle(self, *args, **options):
        source = Path(settings.BASE_DIR) / "demo" / "data" / "math_test_problems.jsonl"
        if not source.exists():
            self.stdout.write(f"No {source}; no generator demo.")
            return
        project = Project.objects.filter(name=DEMO_GENERATOR_PROJECT).first()
        if project is None:
            lines = source.read_text(encoding="utf-8").splitlines()[:DEMO_PROBLEMS]
            with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
                handle.flush()
                problems_import(path=handle.name, project_name=DEMO_GENERATOR_PROJECT)
            project = Project.objects.get(name=DEMO_GENERATOR_PROJECT)
        for user in User.objects.filter(username__in=DEMO_USERS):
            membership_ensure(user=user, project=project)
        if Run.objects.filter(project=project).exists() or not settings.DEMO_GENERATOR_RUN:
            return
        from active_learning.generator_runs import generation_run_start

        run = generation_run_start(
            project=project, options=DEMO_OPTIONS, trigger=RunTrigger.COMMAND
        )
        self.stdout.write(
            f"Demo generator run {run.pk} queued: {DEMO_PROBLEMS} problems x "
            f"{DEMO_OPTIONS['samples_per_problem']} solutions with smollm2 on the gpu worker."
        )
