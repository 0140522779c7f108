from django.core.management.base import BaseCommand, CommandError

from active_learning.grading import grading_enqueue, solutions_grade
from labeling.errors import ApplicationError
from labeling.models import Project


class Command(BaseCommand):
    help = (
        "Grade the final answers of a project's candidate solutions against the reference "
        "answers (math-verify). Runs here by default; --background queues it for a worker."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--regrade", action="store_true", help="grade every solution again, not just new ones"
        )
        parser.add_argument(
            "--background", action="store_true", help="queue it for a `default` worker"
        )

    def handle(self, *args, project, regrade, background, **options):
        found = Project.objects.filter(name=project).first()
        if found is None:
            raise CommandError(f"No project named {project!r}.")
        if background:
            if not grading_enqueue(found.pk, regrade=regrade):
                raise CommandError("The broker cannot be reached; nothing was queued.")
            self.stdout.write(f"Grading of {found.name!r} queued.")
            return
        try:
            counts = solutions_grade(project=found, regrade=regrade)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{found.name}: {counts['correct']} correct, {counts['wrong']} wrong, "
            f"{counts['no_reference']} without a reference answer, {counts['no_answer']} "
            f"without a final answer, {counts['errors']} could not be graded (left unknown)."
        )
