"""The loop's lead pages (htmx): runs with live progress, settings, triggers; generations and
model versions with the quality chart; and `/healthz` for load balancers and compose."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from active_learning import charts, health, pipeline, selectors
from active_learning.forms import LoopSettingsForm
from active_learning.models import RunTrigger
from labeling.errors import ApplicationError, NotFound

POLL_SECONDS = 2  # how often the progress panel refreshes while a run is active


def _project(request, project_id: int, *, lead: bool = False):
    if not selectors.can_view_loop(request.user):
        raise PermissionDenied("Only project leads and researchers see the loop.")
    if lead and not selectors.can_run_loop(request.user):
        raise PermissionDenied("Only project leads run the loop.")
    try:
        return selectors.project_for_loop(request.user, project_id)
    except NotFound:
        raise Http404("No such project.") from None


def _loop_context(request, project, form=None) -> dict:
    overview = selectors.loop_overview(project)
    active = overview["active_run"]
    return {
        "project": project,
        "form": form or LoopSettingsForm(instance=pipeline.loop_settings_get(project)),
        "can_run": selectors.can_run_loop(request.user),
        "jobs_paused": not health.broker_available(),
        "poll_seconds": POLL_SECONDS,
        "active_elapsed": selectors.run_elapsed_seconds(active) if active else None,
        **overview,
    }


@require_GET
@login_required
def loop_page(request, project_id: int):
    """The loop page; an htmx request gets the progress panel only (polled while a run is
    active)."""
    project = _project(request, project_id)
    context = _loop_context(request, project)
    template = "active_learning/loop.html#progress" if request.htmx else "active_learning/loop.html"
    return render(request, template, context)


@require_POST
@login_required
def loop_settings_save(request, project_id: int):
    project = _project(request, project_id, lead=True)
    form = LoopSettingsForm(request.POST, instance=pipeline.loop_settings_get(project))
    if not form.is_valid():  # keeps what was typed
        return render(
            request, "active_learning/loop.html", _loop_context(request, project, form), status=400
        )
    form.save()
    messages.success(request, "Loop settings saved.")
    return redirect("loop", project_id=project.pk)


@require_POST
@login_required
def run_trigger_view(request, project_id: int):
    project = _project(request, project_id, lead=True)
    try:
        run = pipeline.run_trigger(project=project, trigger=RunTrigger.LEAD, user=request.user)
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        if health.broker_available():
            messages.success(request, f"Run {run.pk} queued.")
        else:
            messages.warning(
                request,
                f"Run {run.pk} is queued, but background jobs are paused (the broker cannot be "
                "reached); it starts when the broker is back.",
            )
    return redirect("loop", project_id=project.pk)


@require_POST
@login_required
def run_retry_view(request, project_id: int, run_id: int):
    project = _project(request, project_id, lead=True)
    try:
        run = pipeline.run_retry(run=selectors.run_for_project(project, run_id), user=request.user)
        messages.success(request, f"Run {run.pk} queued (a retry of run {run_id}).")
    except NotFound:
        raise Http404("No such run.") from None
    except ApplicationError as exc:
        messages.error(request, str(exc))
    return redirect("loop", project_id=project.pk)


@require_POST
@login_required
def run_cancel_view(request, project_id: int, run_id: int):
    project = _project(request, project_id, lead=True)
    try:
        pipeline.run_cancel(run=selectors.run_for_project(project, run_id), user=request.user)
        messages.success(request, f"Run {run_id} cancelled.")
    except NotFound:
        raise Http404("No such run.") from None
    except ApplicationError as exc:
        messages.error(request, str(exc))
    return redirect("loop", project_id=project.pk)


@require_POST
@login_required
def grade_view(request, project_id: int):
    from active_learning.grading import grading_enqueue

    project = _project(request, project_id, lead=True)
    regrade = request.POST.get("regrade") == "1"
    if grading_enqueue(project.pk, regrade=regrade):
        messages.success(request, "Grading queued: a worker grades the final answers.")
    else:
        messages.error(
            request, "Background jobs are paused (the broker cannot be reached); try again later."
        )
    return redirect("loop", project_id=project.pk)


@require_GET
@login_required
def run_detail(request, project_id: int, run_id: int):
    project = _project(request, project_id)
    try:
        run = selectors.run_for_project(project, run_id)
    except NotFound:
        raise Http404("No such run.") from None
    context = {
        "project": project,
        "run": run,
        "elapsed": selectors.run_elapsed_seconds(run),
        "can_run": selectors.can_run_loop(request.user),
        "poll_seconds": POLL_SECONDS,
    }
    template = "active_learning/run.html#run" if request.htmx else "active_learning/run.html"
    return render(request, template, context)


@require_GET
@login_required
def generations_page(request, project_id: int):
    project = _project(request, project_id)
    versions = selectors.model_versions_overview(project)
    return render(
        request,
        "active_learning/generations.html",
        {
            "project": project,
            "generations": selectors.generations_overview(project),
            "versions": versions,
            "chart": charts.quality_vs_labels(selectors.quality_series(versions)),
        },
    )


@never_cache
@require_GET
def healthz(request):
    """JSON: database, broker, recently seen workers. 200 when the database and broker answer
    (and, with `?queues=default,gpu`, each listed queue has a worker), else 503."""
    queues = [q for q in request.GET.get("queues", "").split(",") if q.strip()]
    healthy, report = health.health_report(require_queues=[q.strip() for q in queues])
    return JsonResponse(report, status=200 if healthy else 503)
