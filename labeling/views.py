from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from labeling import charts, phase1_views, review_selectors, selectors
from labeling.errors import ApplicationError
from labeling.forms import (
    GuidelinesForm,
    MemberAddForm,
    ProjectCreateForm,
    ProjectSettingsForm,
    StatsFilterForm,
)
from labeling.models import Labeling, Membership, Project
from labeling.permissions import (
    is_lead,
    lead_project,
    require_lead,
    require_researcher,
    research_project,
)
from labeling.prm800k import ANSWER_MARKER
from labeling.project_stats import StatsFilter, project_statistics
from labeling.services import assignments, hints, phase1
from labeling.services.projects import (
    membership_add,
    membership_remove,
    membership_resume,
    project_create,
    project_guidelines_set,
    project_update,
)
from labeling.templatetags.labeling_extras import isolate


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
            "create_form": ProjectCreateForm() if is_lead(request.user) else None,
        },
    )


@require_POST
@login_required
def project_start(request, project_id: int):
    project = get_object_or_404(Project, pk=project_id)
    # NotFound (not a member) is a 404 page: labeling.error_edges
    result = assignments.assignment_next(user=request.user, project=project)
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
    labeling = selectors.assignment_for_user(request.user, assignment_id)  # NotFound: 404
    if request.headers.get("X-Look-Ahead") != "1":  # the look-ahead's prefetch is no opening:
        labeling = assignments.assignment_open(labeling=labeling)  # its lease stays short
    labeling = hints.assignment_hint_record(labeling=labeling)
    if phase1.is_phase1_task(labeling):  # no pre-generated steps: labeling/phase1_views.py
        return phase1_views.task_page(request, labeling)
    state = selectors.assignment_view(labeling)
    # The page does not tell quality-control and screening questions apart from other tasks
    # (the API says so for scripts, which need it).
    state.pop("kind")
    context = {
        "state": state,
        "labeling": labeling,
        "steps": _display_steps(state["steps"]),
        "project": labeling.project,
        # the lead's guidelines (Members and guidelines page), shown above the problem
        "guidelines": labeling.project.guidelines,
        "progress": selectors.annotator_progress(request.user, labeling.project),
    }
    template = "labeling/task.html#task" if request.htmx else "labeling/task.html"
    return render(request, template, context)


@require_GET
def session_state(request):
    """`{"authenticated": bool, "username": str | null, "csrf_token": str | null}` for an open
    task page whose saves were refused (session expired, or a login in another tab rotated the
    CSRF token): it polls `/session/?user=<its username>` until that user is back, then resends
    with the fresh token (static/js/task-net.js). The token is given only when the browser is
    signed in as the user named in `user`: a page of user A never gets a token that lets it
    act as user B who signed in in another tab (it is told who is signed in, to say so). Never
    cached; anonymous callers get authenticated false, not a redirect."""
    user = request.user
    username = user.get_username() if user.is_authenticated else None
    expected = request.GET.get("user")
    response = JsonResponse(
        {
            "authenticated": user.is_authenticated,
            "username": username,
            "csrf_token": get_token(request) if username and username == expected else None,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


def _lead_project(request, project_id: int) -> Project:
    """The project, for a lead; 403 saying so for anyone else (a 404 would send an annotator
    looking for a project they belong to), 404 when there is no such project."""
    require_lead(request.user, "Only project leads manage a project's queue, settings and members.")
    return lead_project(request.user, project_id)  # NotFound: a 404 page


DISAGREEMENTS_SHOWN = 100  # rows on the queue page; the API lists them all


def _queue_page(request, project, form, status=200):
    context = {
        "project": project,
        "form": form,
        **selectors.queue_overview(project),
        "disagreements": review_selectors.disagreement_queue(project)[:DISAGREEMENTS_SHOWN],
    }
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


# The hinted/unhinted comparison's rows on the statistics page (labeling/hint_stats.py).
HINT_METRICS = (
    ("gold_first_error_match", "First error matches gold (share of QC questions)"),
    ("gold_step_agreement", "Step agreement with gold (mean over QC questions)"),
    ("prm_first_error_match", "First error matches the model's (share)"),
    ("seconds_per_step", "Seconds per step (mean)"),
    ("first_error_position", "First-error step, 0-based (mean, where one was found)"),
)


@require_GET
@login_required
def project_dashboard(request, project_id: int):
    require_researcher(
        request.user, "Only project leads and researchers see a project's statistics."
    )
    project = research_project(request.user, project_id)  # NotFound: a 404 page
    form = StatsFilterForm(request.GET or None)
    flt = StatsFilter()
    invalid = form.is_bound and not form.is_valid()  # e.g. ?generation=1e30: a 400 that
    # shows the field's error above the unfiltered statistics
    if form.is_bound and not invalid:
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
        "quality_control": selectors.quality_control_setup(project),
        "hint_rows": [
            {
                "label": label,
                "cells": [stats["hints"]["hinted"][key], stats["hints"]["unhinted"][key]],
            }
            for key, label in HINT_METRICS
        ],
    }
    template = "labeling/dashboard.html#dashboard" if request.htmx else "labeling/dashboard.html"
    return render(request, template, context, status=400 if invalid else 200)


@require_POST
@login_required
def project_create_view(request):
    require_lead(request.user, "Only project leads create projects.")
    form = ProjectCreateForm(request.POST)
    if form.is_valid():
        try:
            project = project_create(**form.cleaned_data, created_by=request.user)
        except ApplicationError as exc:
            field, _, text = exc.message.partition(": ")
            form.add_error(field if field in form.fields else None, text or exc.message)
        else:
            messages.success(
                request,
                format_html(
                    "Project {} created. Add its members and guidelines, then import problems "
                    "and solutions.",
                    isolate(project.name),  # its name could hold text in another direction
                ),
            )
            return redirect("project-members", project_id=project.pk)
    for error in form.errors.values():
        messages.error(request, f"New project: {' '.join(error)}")
    return redirect("home")


def _members_page(request, project, add_form=None, guidelines_form=None, status=200):
    context = {
        "project": project,
        "add_form": add_form or MemberAddForm(),
        "guidelines_form": guidelines_form
        or GuidelinesForm(initial={"guidelines": project.guidelines}),
        "members": selectors.project_members(project),
    }
    return render(request, "labeling/members.html", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def project_members(request, project_id: int):
    """Members (add or invite with a role, remove) and the annotators' guidelines."""
    project = _lead_project(request, project_id)
    if request.method == "GET":
        return _members_page(request, project)
    if "guidelines" in request.POST:
        form = GuidelinesForm(request.POST)
        if form.is_valid():
            try:
                project_guidelines_set(project=project, guidelines=form.cleaned_data["guidelines"])
            except ApplicationError as exc:
                form.add_error("guidelines", exc.message.removeprefix("guidelines: "))
            else:
                messages.success(request, "Guidelines saved; annotators see them on their tasks.")
                return redirect("project-members", project_id=project.pk)
        return _members_page(request, project, guidelines_form=form, status=400)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        try:
            membership, password = membership_add(project=project, **form.cleaned_data)
        except ApplicationError as exc:
            field, _, text = exc.message.partition(": ")
            form.add_error(field if field in form.fields else None, text or exc.message)
        else:
            user = membership.user
            if password:
                messages.success(
                    request,
                    f"Account {user.username} ({user.get_role_display().lower()}) created and "
                    f"added. Their password, shown only now: {password}",
                )
            else:
                messages.success(request, f"{user.username} added to {project.name}.")
            return redirect("project-members", project_id=project.pk)
    return _members_page(request, project, add_form=form, status=400)


@require_POST
@login_required
def membership_remove_view(request, project_id: int, membership_id: int):
    project = _lead_project(request, project_id)
    membership = get_object_or_404(Membership, pk=membership_id, project=project)
    membership_remove(membership=membership)
    messages.success(
        request, f"{membership.user.username} removed from {project.name}; their labels stay."
    )
    return redirect("project-members", project_id=project.pk)
