"""Prepare a project for phase-1 labeling (docs/phase1.md)."""

from django.core.management.base import CommandError

from labeling.management.commands._base import ServiceCommand
from labeling.models import Project
from labeling.services.phase1 import alternatives_from_labelings, phase1_generation_create
from labeling.services.projects import project_update


class Command(ServiceCommand):
    help = (
        "Store the proposed next steps of a project's imported PRM800K phase-1 records as its "
        "phase-1 alternatives; with --queue, turn on phase-1 mode and queue every problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="turn on phase-1 mode and queue every problem in a new generation",
        )

    def handle(self, *args, project, queue, **options):
        found = Project.objects.filter(name=project.strip()).first()
        if found is None:
            raise CommandError(f"--project: no project named {project.strip()!r}")
        points = alternatives_from_labelings(project=found)
        self.stdout.write(f"{points} new points with proposed next steps.")
        if queue:
            if not found.phase1_mode:
                project_update(project=found, phase1_mode=True)
            generation = phase1_generation_create(project=found)
            self.stdout.write(
                f"Generation {generation.number}: {generation.items.count()} problems queued "
                "for phase-1 labeling."
            )
