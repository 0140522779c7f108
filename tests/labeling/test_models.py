"""Invariants the database itself enforces, whatever code writes to it."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from labeling.models import Generation, Labeling, LabelingStatus, Project, StepRating
from tests.factories import LabelingFactory, ProblemFactory, ProjectFactory, SolutionFactory

pytestmark = pytest.mark.django_db


def rejected(**fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        fields.pop("model").objects.create(**fields)


@pytest.mark.parametrize("rating", [2, -2, 5])
def test_a_rating_outside_minus_one_to_one_is_rejected(rating):
    labeling = LabelingFactory()
    rejected(model=StepRating, labeling=labeling, step_index=0, completion_index=0, rating=rating)


@pytest.mark.parametrize("rating", [-1, 0, 1, None])
def test_ratings_in_the_domain_and_null_are_stored(rating):
    labeling = LabelingFactory()
    StepRating.objects.create(labeling=labeling, step_index=0, completion_index=0, rating=rating)


def test_one_rating_per_completion_of_a_step():
    labeling = LabelingFactory()
    StepRating.objects.create(labeling=labeling, step_index=3, completion_index=0, rating=1)
    rejected(model=StepRating, labeling=labeling, step_index=3, completion_index=0, rating=0)


def test_finish_reason_must_be_one_of_prm800k():
    labeling = LabelingFactory()
    labeling.finish_reason = "done"
    with pytest.raises(IntegrityError), transaction.atomic():
        labeling.save()


def test_a_submitted_labeling_needs_a_finish_reason_and_a_time():
    with pytest.raises(IntegrityError), transaction.atomic():
        LabelingFactory(finish_reason=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        LabelingFactory(submitted_at=None)
    draft = LabelingFactory(status=LabelingStatus.DRAFT, finish_reason=None, submitted_at=None)
    assert draft.pk


def test_negative_total_time_is_rejected():
    with pytest.raises(IntegrityError), transaction.atomic():
        LabelingFactory(total_time_ms=-1)


def test_an_imported_record_is_stored_once_per_project():
    first = LabelingFactory(source_hash="a" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        LabelingFactory(solution=first.solution, source_hash="a" * 64)
    LabelingFactory(source_hash="a" * 64)  # another project


def test_problem_text_is_unique_per_project_and_solution_steps_per_problem():
    problem = ProblemFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ProblemFactory(project=problem.project, text=problem.text)
    ProblemFactory(text=problem.text)  # same text, another project
    solution = SolutionFactory(problem=problem)
    with pytest.raises(IntegrityError), transaction.atomic():
        SolutionFactory(problem=problem, steps=solution.steps)


def test_generation_numbers_are_unique_and_not_below_screening():
    project = ProjectFactory()
    Generation.objects.create(project=project, number=-1)
    rejected(model=Generation, project=project, number=-1)
    rejected(model=Generation, project=project, number=-2)


@pytest.mark.parametrize(
    "fields", [{"overlap": 0}, {"qc_rate": 1.5}, {"screening_pass_mark": -0.1}]
)
def test_project_settings_are_range_checked(fields):
    rejected(model=Project, name="x", **fields)


def test_every_model_is_in_the_admin():
    from django.apps import apps
    from django.contrib import admin

    for model in apps.get_app_config("labeling").get_models():
        assert admin.site.is_registered(model), model.__name__


def test_labeling_rows_are_not_deleted_with_their_labeler():
    labeling = LabelingFactory()
    with pytest.raises(ProtectedError), transaction.atomic():
        labeling.labeler.delete()
    assert Labeling.objects.filter(pk=labeling.pk).exists()
