from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeling.selectors import projects_for_user


@require_GET
@login_required
def home(request):
    return render(request, "labeling/home.html", {"projects": projects_for_user(request.user)})
