"""Pages of the researcher surface: a project's data page (imports with an upload progress bar
and a per-line error report, background exports with downloads) and the user's API tokens."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from labeling import jobs, research_auth
from labeling.errors import ApplicationError
from labeling.exports import NeutralAs
from labeling.input_rules import INT32, text_policy
from labeling.models import ExportFormat, ExportJob, FinishReason, ImportJob, ImportKind, JobStatus
from labeling.permissions import require_researcher, research_project


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=ExportFormat.choices)
    generation = forms.IntegerField(required=False, min_value=-1, max_value=INT32[1])
    labeler = forms.CharField(
        required=False, max_length=150, help_text="user name or UUID", validators=[text_policy]
    )
    submitted_after = forms.DateTimeField(required=False, help_text="e.g. 2026-11-01")
    submitted_before = forms.DateTimeField(required=False)
    finish_reason = forms.MultipleChoiceField(
        choices=FinishReason.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    quality_control = forms.ChoiceField(
        choices=[("", "include"), ("false", "exclude"), ("true", "only")], required=False
    )
    screening = forms.ChoiceField(
        choices=[("", "include"), ("false", "exclude"), ("true", "only")], required=False
    )
    neutral = forms.ChoiceField(
        choices=[(n.value, f"Neutral as {n.value}") for n in NeutralAs],
        initial=NeutralAs.POSITIVE.value,
        required=False,
        help_text="training formats only",
    )

    def filters(self) -> dict:
        data = self.cleaned_data
        filters = {}
        for key in ("generation", "labeler", "finish_reason"):
            if data.get(key) not in (None, "", []):
                filters[key] = data[key]
        for key in ("submitted_after", "submitted_before"):
            if data.get(key):
                filters[key] = data[key].isoformat()
        if data.get("quality_control"):
            filters["is_quality_control"] = data["quality_control"] == "true"
        if data.get("screening"):
            filters["is_screening"] = data["screening"] == "true"
        if data["format"] in (ExportFormat.TRAINING_JSONL, ExportFormat.TRAINING_PARQUET):
            filters["neutral"] = data.get("neutral") or NeutralAs.POSITIVE.value
        return filters


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=ImportKind.choices)
    generation = forms.IntegerField(
        required=False,
        min_value=-1,
        max_value=INT32[1],
        help_text="solutions only; empty: a new generation",
    )
    file = forms.FileField()


def _project(request, project_id: int):
    require_researcher(request.user, "Only researchers and project leads import and export.")
    return research_project(request.user, project_id)  # NotFound: a 404 page


def _jobs_context(project):
    exports = list(ExportJob.objects.filter(project=project).select_related("created_by")[:20])
    imports = list(ImportJob.objects.filter(project=project).select_related("created_by")[:20])
    active = any(j.status in (JobStatus.QUEUED, JobStatus.RUNNING) for j in [*exports, *imports])
    return {"exports": exports, "imports": imports, "active": active}


@login_required
@require_http_methods(["GET", "POST"])
def project_data(request, project_id: int):
    project = _project(request, project_id)
    export_form, import_form = ExportForm(prefix="export"), ImportForm(prefix="import")
    if request.method == "POST":
        try:
            if "export-format" in request.POST:
                export_form = ExportForm(request.POST, prefix="export")
                if export_form.is_valid():
                    jobs.export_job_create(
                        user=request.user,
                        project=project,
                        export_format=export_form.cleaned_data["format"],
                        filters=export_form.filters(),
                    )
                    messages.info(request, "Export queued.")
                    return redirect("project-data", project_id=project.pk)
            else:
                import_form = ImportForm(request.POST, request.FILES, prefix="import")
                if import_form.is_valid():
                    jobs.import_job_create(
                        user=request.user,
                        project=project,
                        kind=import_form.cleaned_data["kind"],
                        upload=import_form.cleaned_data["file"],
                        generation=import_form.cleaned_data["generation"],
                    )
                    messages.info(request, "Import queued.")
                    return redirect("project-data", project_id=project.pk)
        except ApplicationError as exc:
            messages.error(request, exc.message)
    context = {
        "project": project,
        "export_form": export_form,
        "import_form": import_form,
        **_jobs_context(project),
    }
    if request.htmx and request.GET.get("part") == "jobs":
        return render(request, "research/data.html#jobs", context)
    return render(request, "research/data.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    new_key = None
    if request.method == "POST":
        try:
            token, new_key = research_auth.token_create(
                user=request.user, name=request.POST.get("name", "")
            )
            messages.info(request, f"Token {token.name!r} created. Copy the key now.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return render(
        request,
        "research/tokens.html",
        {"tokens": request.user.api_tokens.all(), "new_key": new_key},
    )


@login_required
@require_POST
def token_revoke(request, token_id: int):
    if research_auth.token_revoke(user=request.user, token_id=token_id):
        messages.info(request, "Token revoked.")
    else:
        messages.error(request, "No such token.")
    return redirect("tokens")
