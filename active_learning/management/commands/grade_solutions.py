from django.core.management.base import BaseCommand, CommandError

from active_learning.grading import (
    default_processes,
    grading_enqueue,
    solutions_grade,
)
from labeling.errors import ApplicationError
from labeling.models import Project


class Command(BaseCommand):
    help = (
        "Grade the final answers of a project's candidate solutions against the reference "
        "answers (exact numbers, math-verify for the rest; docs/formats.md). Grades the pending "
        "ones here, in a pool of processes; --background queues it for the `grading` workers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--regrade", action="store_true", help="grade every solution again, not just new ones"
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=default_processes(),
            help="grading processes (default: the CPUs this process may use)",
        )
        parser.add_argument(
            "--background", action="store_true", help="queue it for the `grading` workers"
        )

    def handle(self, *args, project, regrade, processes, background, **options):
        found = Project.objects.filter(name=project).first()
        if found is None:
            raise CommandError(f"No project named {project!r}.")
        if not 1 <= processes <= 256:
            raise CommandError(f"--processes must be from 1 to 256, got {processes}")
        if background:
            if not grading_enqueue(found.pk, regrade=regrade):
                raise CommandError("The broker cannot be reached; nothing was queued.")
            self.stdout.write(f"Grading of {found.name!r} queued.")
            return
        try:
            counts = solutions_grade(project=found, regrade=regrade, processes=processes)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        given = (
            f", {counts['given']} with correctness from their source" if "given" in counts else ""
        )
        self.stdout.write(
            f"{found.name}: {counts['correct']} correct, {counts['wrong']} wrong, "
            f"{counts['no_reference']} without a reference answer, {counts['no_answer']} "
            f"without a final answer, {counts['errors']} could not be graded (left unknown)"
            f"{given}."
        )
