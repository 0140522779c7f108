"""The loop's lead pages (htmx): runs with live progress, settings, triggers; generations and
model versions with the quality chart; and `/healthz` for load balancers and compose."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from active_learning import charts, generator_runs, health, selectors
from active_learning.forms import GeneratorForm, LoopSettingsForm
from active_learning.loop import params, triggers
from active_learning.models import RunTrigger
from labeling.errors import ApplicationError, Conflict
from labeling.permissions import is_lead, require_lead, require_researcher, research_project

POLL_SECONDS = 2  # how often the progress panel refreshes while a run is active


def _project(request, project_id: int, *, lead: bool = False):
    """The project for a loop page: 403 for annotators (and non-leads where `lead`), 404 for
    no such project or another's (labeling/permissions.py; NotFound becomes the 404 page in
    labeling/error_edges.py)."""
    require_researcher(request.user, "Only project leads and researchers see the loop.")
    if lead:
        require_lead(request.user, "Only project leads run the loop.")
    return research_project(request.user, project_id)


def _loop_context(request, project, form=None) -> dict:
    overview = selectors.loop_overview(project)
    active = overview["active_run"]
    return {
        "project": project,
        "form": form or LoopSettingsForm(instance=params.loop_settings_get(project)),
        "can_run": is_lead(request.user),
        "jobs_paused": not health.broker_available(),
        "poll_seconds": POLL_SECONDS,
        "active_elapsed": selectors.run_elapsed_seconds(active) if active else None,
        "active_waiting_for": selectors.run_waiting_for(active) if active else None,
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
    form = LoopSettingsForm(request.POST, instance=params.loop_settings_get(project))
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
        run_params = _generate_first(request.POST.get("generate_samples", ""))
        run = triggers.run_trigger(
            project=project, trigger=RunTrigger.LEAD, user=request.user, params=run_params
        )
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


def _generate_first(samples: str) -> dict:
    """The loop form's "generate N new samples per problem first" (empty: no generate stage):
    the generator's default options for the problems that need them."""
    samples = samples.strip()
    if not samples:
        return {}
    try:
        count = int(samples)
    except ValueError:
        raise ApplicationError(
            f"Samples per problem to generate first: {samples!r} is not a whole number."
        ) from None
    return {"generate": {"samples_per_problem": count, "only_needed": True}}


@require_POST
@login_required
def run_retry_view(request, project_id: int, run_id: int):
    project = _project(request, project_id, lead=True)
    failed = selectors.run_for_project(project, run_id)  # NotFound: the 404 page
    try:
        run = triggers.run_retry(run=failed, user=request.user)
        messages.success(request, f"Run {run.pk} queued (a retry of run {run_id}).")
    except ApplicationError as exc:
        messages.error(request, str(exc))
    return redirect("loop", project_id=project.pk)


@require_POST
@login_required
def run_cancel_view(request, project_id: int, run_id: int):
    project = _project(request, project_id, lead=True)
    queued = selectors.run_for_project(project, run_id)  # NotFound: the 404 page
    try:
        triggers.run_cancel(run=queued, user=request.user)
        messages.success(request, f"Run {run_id} cancelled.")
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
    run = selectors.run_for_project(project, run_id)  # NotFound: the 404 page
    context = {
        "project": project,
        "run": run,
        "elapsed": selectors.run_elapsed_seconds(run),
        "waiting_for": selectors.run_waiting_for(run),
        "param_rows": selectors.run_param_rows(run.params),
        "can_run": is_lead(request.user),
        "poll_seconds": POLL_SECONDS,
    }
    template = "active_learning/run.html#run" if request.htmx else "active_learning/run.html"
    return render(request, template, context)


@require_POST
@login_required
def run_stop_view(request, project_id: int, run_id: int):
    """Stop a generator run (queued: cancelled; generating: ends after the batch in flight)."""
    project = _project(request, project_id, lead=True)
    run = selectors.run_for_project(project, run_id)  # NotFound: the 404 page
    try:
        generator_runs.generation_stop(run=run, user=request.user)
        messages.success(request, f"Run {run_id} stopped; the solutions it stored stay.")
    except ApplicationError as exc:
        messages.error(request, str(exc))
    return redirect("run-detail", project_id=project.pk, run_id=run_id)


def _generator_context(request, project, form) -> dict:
    return {
        "project": project,
        "form": form,
        "can_run": is_lead(request.user),
        "jobs_paused": not health.broker_available(),
        "active_run": triggers.active_run(project),
        **selectors.generator_overview(project),
    }


@require_GET
@login_required
def generator_page(request, project_id: int):
    """The generator: options, a start button, and the project's generator runs."""
    project = _project(request, project_id)
    return render(
        request,
        "active_learning/generator.html",
        _generator_context(request, project, GeneratorForm()),
    )


@require_POST
@login_required
def generator_start_view(request, project_id: int):
    """Start a generator run; bad options come back on the fields they name (400, with what
    was typed), a project with an active run gets 409."""
    project = _project(request, project_id, lead=True)
    form = GeneratorForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            run = generator_runs.generation_run_start(
                project=project, options=form.options(), user=request.user
            )
        except Conflict as exc:
            form.add_error(None, str(exc))
            status = 409
        except ApplicationError as exc:
            _errors_on_fields(form, exc)
        else:
            messages.success(request, f"Generator run {run.pk} queued.")
            return redirect("run-detail", project_id=project.pk, run_id=run.pk)
    context = _generator_context(request, project, form)
    return render(request, "active_learning/generator.html", context, status=status)


def _errors_on_fields(form, exc: ApplicationError) -> None:
    """`generate.prompt_template: ...` goes on the prompt template field, the rest on top."""
    for detail in exc.details or [exc.message]:
        name, _, message = detail.partition(": ")
        name = name.removeprefix("generate.")
        if message and name in form.fields:
            form.add_error(name, message)
        else:
            form.add_error(None, detail)


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
