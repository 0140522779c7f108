from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from labeling import charts, selectors
from labeling.errors import ApplicationError, NotFound
from labeling.forms import ProjectSettingsForm, StatsFilterForm
from labeling.models import Labeling, Membership, Project
from labeling.prm800k import ANSWER_MARKER
from labeling.project_stats import StatsFilter, project_statistics
from labeling.services import assignments
from labeling.services.projects import membership_resume, project_update


@require_GET
@login_required
def home(request):
    finished = request.GET.get("finished", "")
    if finished.isdigit():  # the task page found no next task: say why, plainly
        project = request.user.projects.filter(pk=int(finished)).first()
        reason = request.GET.get("reason") or assignments.NOTHING_LEFT
        if project is not None and reason in assignments.MESSAGES:
            messages.info(request, assignments.NextTask(None, reason).message(project))
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
        result = assignments.assignment_next(user=request.user, project=project)
    except NotFound:
        raise Http404("No such project.") from None
    if result.labeling is None:
        messages.info(request, result.message(project))
        return redirect("home")
    return redirect("task", assignment_id=result.labeling.pk)


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
    labeling = assignments.assignment_open(labeling=labeling)
    state = selectors.assignment_view(labeling)
    # The page does not tell quality-control and screening questions apart from other tasks
    # (the API says so for scripts, which need it).
    state.pop("kind")
    context = {
        "state": state,
        "labeling": labeling,
        "steps": _display_steps(state["steps"]),
        "project": labeling.project,
    }
    template = "labeling/task.html#task" if request.htmx else "labeling/task.html"
    return render(request, template, context)


def _lead_project(request, project_id: int) -> Project:
    try:
        return selectors.project_for_lead(request.user, project_id)
    except NotFound:
        raise Http404("No such project.") from None


def _queue_page(request, project, form, status=200):
    context = {"project": project, "form": form, **selectors.queue_overview(project)}
    template = "labeling/queue.html#queue" if request.htmx else "labeling/queue.html"
    return render(request, template, context, status=status)


@require_GET
@login_required
def project_queue(request, project_id: int):
    project = _lead_project(request, project_id)
    return _queue_page(request, project, ProjectSettingsForm(instance=project))


@require_POST
@login_required
def project_settings(request, project_id: int):
    project = _lead_project(request, project_id)
    form = ProjectSettingsForm(request.POST, instance=Project.objects.get(pk=project.pk))
    if not form.is_valid():
        return _queue_page(request, project, form, status=400)  # keeps what was typed
    try:
        project_update(project=project, **{k: form.cleaned_data[k] for k in form.changed_data})
    except ApplicationError as exc:
        form.add_error(None, str(exc))
        return _queue_page(request, project, form, status=400)
    messages.success(request, "Settings saved.")
    return redirect("project-queue", project_id=project.pk)


@require_POST
@login_required
def lease_release_view(request, project_id: int, labeling_id: int):
    project = _lead_project(request, project_id)
    labeling = get_object_or_404(Labeling, pk=labeling_id, project=project)
    try:
        assignments.lease_release(labeling=labeling)
        messages.success(request, f"Released task {labeling_id}; it is back in the queue.")
    except ApplicationError as exc:
        messages.info(request, str(exc))
    return redirect("project-queue", project_id=project.pk)


@require_POST
@login_required
def membership_resume_view(request, project_id: int, membership_id: int):
    project = _lead_project(request, project_id)
    membership = get_object_or_404(Membership, pk=membership_id, project=project)
    membership_resume(membership=membership)
    messages.success(request, f"{membership.user.username} can label again.")
    return redirect("project-queue", project_id=project.pk)


@require_GET
@login_required
def project_dashboard(request, project_id: int):
    if not selectors.can_see_statistics(request.user):
        raise Http404("No such project.")
    try:
        project = selectors.project_for_statistics(request.user, project_id)
    except NotFound:
        raise Http404("No such project.") from None
    form = StatsFilterForm(request.GET or None)
    flt = StatsFilter()
    if form.is_bound and form.is_valid():
        flt = StatsFilter(**{k: v for k, v in form.cleaned_data.items() if v is not None})
    stats = project_statistics(project, flt)
    throughput = stats["throughput"]
    over_time = stats["agreement_over_time"]
    context = {
        "project": project,
        "form": form,
        "stats": stats,
        "rating_chart": charts.rating_bars(throughput["per_labeler"]),
        "daily_chart": charts.columns(
            [(d["date"], d["labelings"]) for d in throughput["daily"]], "Labelings per day"
        ),
        "agreement_chart": charts.lines(
            {
                "percent agreement": [(p["date"], p["percent_agreement"]) for p in over_time],
                "Krippendorff's alpha (ordinal)": [
                    (p["date"], p["krippendorff_alpha_ordinal"]) for p in over_time
                ],
            }
        ),
        "kappas": sorted(
            stats["pairwise_cohen_kappa"], key=lambda p: (p["kappa"] is None, p["kappa"] or 0)
        )[:50],
        "usernames": {row["labeler"]: row["username"] for row in throughput["per_labeler"]},
    }
    template = "labeling/dashboard.html#dashboard" if request.htmx else "labeling/dashboard.html"
    return render(request, template, context)
