from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling import selectors
from labeling.errors import NotFound
from labeling.models import Project
from labeling.prm800k import ANSWER_MARKER
from labeling.services import assignments


@require_GET
@login_required
def home(request):
    return render(
        request,
        "labeling/home.html",
        {
            "summaries": selectors.annotator_project_summaries(request.user),
            "projects": selectors.projects_for_user(request.user),
        },
    )


@require_POST
@login_required
def project_start(request, project_id: int):
    project = get_object_or_404(Project, pk=project_id)
    try:
        labeling = assignments.assignment_next(user=request.user, project=project)
    except NotFound:
        raise Http404("No such project.") from None
    if labeling is None:
        messages.info(request, f"Nothing to label in {project.name} right now.")
        return redirect("home")
    return redirect("task", assignment_id=labeling.pk)


def _display_steps(texts: list[str]) -> list[dict]:
    """Split a final `# Answer` block off its step so the page can show it as the answer."""
    steps = []
    for text in texts:
        at = text.rfind(ANSWER_MARKER)
        if at >= 0:
            steps.append({"body": text[:at].rstrip(), "answer": text[at + len(ANSWER_MARKER) :]})
        else:
            steps.append({"body": text, "answer": None})
    return steps


@require_GET
@login_required
def task(request, assignment_id: int):
    """The task page; an htmx request gets just the task (used to swap in the next task)."""
    try:
        labeling = selectors.assignment_for_user(request.user, assignment_id)
    except NotFound:
        raise Http404("No such assignment.") from None
    state = selectors.assignment_view(labeling)
    context = {
        "state": state,
        "labeling": labeling,
        "steps": _display_steps(state["steps"]),
        "project": labeling.project,
    }
    template = "labeling/task.html#task" if request.htmx else "labeling/task.html"
    return render(request, template, context)
