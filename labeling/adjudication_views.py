"""The adjudication page (docs/model-assisted.md): a lead sees a solution's labelings side by
side (step by step: ratings, flags; per labeling: first error, time, ending) and records the
adjudicated first error."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from labeling import review_selectors
from labeling.adjudication_api import SolutionAdjudicationApi
from labeling.errors import ApplicationError
from labeling.models import Solution
from labeling.permissions import lead_project, require_lead
from labeling.services.adjudication import adjudication_record


def form_integer(text: str) -> int | str:
    """A form's text as the JSON integer the API's serializer takes when it is one ("-1",
    "3"); anything else unchanged, for the serializer to refuse naming the field."""
    return int(text) if re.fullmatch(r"-?[0-9]{1,6}", text.strip()) else text


@require_http_methods(["GET", "POST"])
@login_required
def solution_adjudicate(request, project_id: int, solution_id: int):
    """GET: the side-by-side page; POST `first_error` (0-based step or -1) and `note`: record
    the ruling, then back to the page (400 with the error shown when the input is bad)."""
    require_lead(request.user, "Only project leads adjudicate labelings.")
    project = lead_project(request.user, project_id)  # NotFound: a 404 page
    view = review_selectors.solution_side_by_side(project, solution_id)  # NotFound for another's
    error = None
    if request.method == "POST":
        # the API's rules (text policy, at most 2000 characters): a bad note is a 400 naming
        # it, never cut short or passed on to the database
        data = SolutionAdjudicationApi.InputSerializer(
            data={
                "first_error": form_integer(request.POST.get("first_error", "")),
                "note": request.POST.get("note", ""),
            }
        )
        if not data.is_valid():
            error = "; ".join(
                f"{name}: {' '.join(str(m) for m in problems)}"
                for name, problems in data.errors.items()
            )
        else:
            try:
                adjudication_record(
                    solution=Solution.objects.get(pk=solution_id),
                    user=request.user,
                    first_error=data.validated_data["first_error"],
                    note=data.validated_data.get("note", ""),
                )
            except ApplicationError as exc:
                error = str(exc)
        if error is None:
            messages.success(request, "Adjudication recorded.")
            return redirect("solution-adjudicate", project_id=project.pk, solution_id=solution_id)
    context = {"project": project, "view": view, "error": error}
    return render(request, "labeling/adjudicate.html", context, status=400 if error else 200)
