"""load_demo reads the repository's own demo data (demo/data), never ../shared (issue 14)."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.models import Generation, GoldLabel, Membership, Project, Solution
from labeling.services.assignments import assignment_next


@pytest.fixture
def no_shared_data(settings, tmp_path):
    settings.SHARED_DATA_DIR = tmp_path / "no-shared-data"  # the demo must not need it
    settings.VAR_DIR = tmp_path / "var"
    return settings


@pytest.mark.django_db
def test_the_demo_project_has_two_annotators_overlap_2_screening_and_gold(no_shared_data, capsys):
    call_command("load_demo")
    first = capsys.readouterr().out
    project = Project.objects.get(name="MATH demo (ProcessBench solutions)")
    assert project.overlap == 2
    # model-assisted labeling on (docs/model-assisted.md): hints with a 20% control share and
    # the disagreement queue
    assert (project.hints_enabled, project.hints_unhinted_share) == (True, 0.2)
    assert project.disagreement_budget == 10
    assert Solution.objects.filter(project=project).count() == 240
    screening = Generation.objects.get(project=project, number=Generation.SCREENING)
    assert screening.items.count() == 2
    assert GoldLabel.objects.filter(solution__project=project).count() == 8
    annotators = Membership.objects.filter(project=project, user__role="annotator")
    assert {m.user.username for m in annotators} == {"annotator", "annotator2"}
    logins = json.loads((no_shared_data.VAR_DIR / "demo_logins.json").read_text())
    assert set(logins) == {"annotator", "annotator2", "lead", "researcher"}
    # the first task of a demo annotator is a screening question
    task = assignment_next(user=annotators[0].user, project=project).labeling
    assert task.is_screening
    # idempotent: nothing new, the same logins
    call_command("load_demo")
    again = capsys.readouterr().out
    assert Solution.objects.filter(project=project).count() == 240
    assert first.split("Demo logins")[1] == again.split("Demo logins")[1]


@pytest.mark.django_db
def test_missing_demo_data_is_named(no_shared_data, tmp_path):
    no_shared_data.DEMO_DATA_DIR = tmp_path / "empty"
    with pytest.raises(CommandError, match=r"demo data missing: math_test_problems\.jsonl"):
        call_command("load_demo")


@pytest.mark.django_db
def test_the_demo_has_a_phase1_project_with_proposals_from_prm800k(no_shared_data, capsys):
    """Catches a demo without a phase-1 project, one whose first step shows no proposals, or
    one that does not say where its proposals come from."""
    from labeling.services import phase1

    call_command("load_demo")
    project = Project.objects.get(name="Phase 1 demo (rate proposed next steps)")
    assert project.phase1_mode
    assert "PRM800K" in project.guidelines and "generator" in project.guidelines
    generation = Generation.objects.get(project=project, strategy="phase1")
    assert generation.items.count() == 3
    annotator = Membership.objects.get(project=project, user__username="annotator").user
    task = assignment_next(user=annotator, project=project).labeling
    assert phase1.is_phase1_task(task)
    state = phase1.phase1_task_state(task)
    assert state["open"]["status"] == "ready" and len(state["open"]["alternatives"]) >= 1
    assert state["open"]["source"] == phase1.PRM800K_ALTERNATIVES
    call_command("load_demo")  # idempotent
    assert Generation.objects.filter(project=project).count() == 1
