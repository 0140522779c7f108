"""Pages of phase-1 labeling (docs/phase1.md): the phase-1 task page (the task page's own
template, in phase-1 mode) and the lead's "queue problems for phase 1" action."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from labeling import selectors
from labeling.errors import ApplicationError
from labeling.models import Labeling
from labeling.permissions import lead_project, require_lead
from labeling.services import phase1


def task_page(request, labeling: Labeling):
    """The task page of a phase-1 task (called by `views.task` once the lease is renewed);
    an htmx request gets the task partial alone, as for phase 2."""
    context = {
        "phase1": True,
        "state": phase1.phase1_task_state(labeling),
        "labeling": labeling,
        "project": labeling.project,
        "guidelines": labeling.project.guidelines,
        "progress": selectors.annotator_progress(request.user, labeling.project),
    }
    template = "labeling/task.html#task" if request.htmx else "labeling/task.html"
    return render(request, template, context)


@require_POST
@login_required
def phase1_queue(request, project_id: int):
    """Queue every problem of the project for phase-1 labeling (a new generation)."""
    require_lead(request.user, "Only project leads queue problems for labeling.")
    project = lead_project(request.user, project_id)
    try:
        generation = phase1.phase1_generation_create(project=project)
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Generation {generation.number}: {generation.items.count()} problems queued for "
            "phase-1 labeling.",
        )
    return redirect("project-queue", project_id=project.pk)
