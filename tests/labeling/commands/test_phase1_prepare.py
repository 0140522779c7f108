"""manage.py phase1_prepare: proposals from imported PRM800K phase-1 records, and the queue."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.models import Generation, NextStepAlternatives, Project

FIXTURE = Path(__file__).parent.parent / "fixtures" / "prm800k_phase1_samples.jsonl"


@pytest.mark.django_db
def test_prepare_stores_the_proposals_and_queues_the_problems(capsys):
    """Catches a command that stores no proposals or leaves the project unqueued; run twice
    it stores nothing new."""
    call_command("import_prm800k", str(FIXTURE), "--project", "p1")
    call_command("phase1_prepare", "--project", "p1", "--queue")
    out = capsys.readouterr().out
    project = Project.objects.get(name="p1")
    points = NextStepAlternatives.objects.filter(project=project).count()
    assert points > 30 and f"{points} new points" in out
    assert project.phase1_mode and "3 problems queued" in out
    call_command("phase1_prepare", "--project", "p1")
    assert "0 new points" in capsys.readouterr().out
    assert Generation.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_an_unknown_project_is_named():
    with pytest.raises(CommandError, match="no project named 'nope'"):
        call_command("phase1_prepare", "--project", "nope")
