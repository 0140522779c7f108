"""The researcher API: resources, filters, pagination, roles and project membership."""

import json
from datetime import UTC, datetime

import pytest

from active_learning.models import ModelStatus, ModelVersion, SolutionScore
from labeling.models import GoldLabel, Labeling, Project
from labeling.services.prm800k_export import labeling_line
from tests.conftest import PRM800K_SAMPLES
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory

from .research_helpers import annotator, client_for, import_samples, lead, researcher

pytestmark = pytest.mark.django_db

RESOURCES = ["problems", "solutions", "generations", "labelings", "model-versions"]


@pytest.mark.parametrize("resource", [*RESOURCES, "exports", "imports"])
def test_annotators_get_403_from_every_researcher_resource(resource):
    project = import_samples()
    response = client_for(annotator(project)).get(f"/api/{resource}/")
    assert response.status_code == 403


@pytest.mark.parametrize("resource", RESOURCES)
def test_anonymous_requests_are_refused(resource):
    from rest_framework.test import APIClient

    assert APIClient().get(f"/api/{resource}/").status_code in (401, 403)


def test_researchers_see_only_their_projects_and_leads_see_all():
    mine = import_samples("mine")
    other = ProjectFactory(name="other")
    LabelingFactory(solution__problem__project=other)
    user = researcher(mine)
    body = client_for(user).get("/api/labelings/").json()
    assert body["count"] == Labeling.objects.filter(project=mine).count() == 12
    assert {row["project"] for row in body["results"]} == {mine.pk}
    foreign = Labeling.objects.get(project=other)
    assert client_for(user).get(f"/api/labelings/{foreign.pk}/").status_code == 404
    assert client_for(user).get(f"/api/solutions/{foreign.solution_id}/").status_code == 404
    assert client_for(lead()).get("/api/labelings/").json()["count"] == 13


def test_each_labeling_is_its_prm800k_record_exactly_as_the_export_writes_it():
    project = import_samples()
    lines = PRM800K_SAMPLES.read_text(encoding="utf-8").splitlines()
    body = client_for(researcher(project)).get("/api/labelings/", {"page_size": 50}).json()
    assert [row["record"] for row in body["results"]] == [json.loads(line) for line in lines]
    first = Labeling.objects.order_by("id").first()
    assert json.dumps(body["results"][0]["record"]) == labeling_line(first)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"generation": 6}, 9),
        ({"finish_reason": "give_up"}, 1),
        ({"finish_reason": ["give_up", "solution"]}, 3),
        ({"labeler": "debabc6d-0a9b-4f5a-a5b4-4c1e0b4b9d66"}, 0),
        (
            {"submitted_after": "2022-11-17T14:07:00Z", "submitted_before": "2022-11-18T00:00:00Z"},
            4,
        ),
        ({"is_quality_control": "true"}, 0),
        ({"is_screening": "false"}, 12),
    ],
)
def test_labeling_filters(params, expected):
    project = import_samples()
    response = client_for(researcher(project)).get("/api/labelings/", params)
    assert response.status_code == 200, response.json()
    assert response.json()["count"] == expected


def test_labeler_filter_takes_a_uuid_or_a_user_name():
    project = import_samples()
    one = Labeling.objects.filter(project=project).order_by("id")[3]
    client = client_for(researcher(project))
    by_uuid = client.get("/api/labelings/", {"labeler": str(one.labeler.labeler_uuid)}).json()
    by_name = client.get("/api/labelings/", {"labeler": one.labeler.username}).json()
    assert [r["id"] for r in by_uuid["results"]] == [r["id"] for r in by_name["results"]]
    assert one.pk in [r["id"] for r in by_uuid["results"]]


def test_bad_filter_values_are_400_naming_the_parameter():
    project = import_samples()
    response = client_for(researcher(project)).get(
        "/api/labelings/", {"submitted_after": "yesterday", "finish_reason": "bored"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"submitted_after", "finish_reason"}


def test_pagination_walks_every_labeling_once():
    project = import_samples()
    client = client_for(researcher(project))
    seen, url = [], "/api/labelings/?page_size=5"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted(Labeling.objects.filter(project=project).values_list("id", flat=True))
    assert client.get("/api/labelings/", {"page_size": 1000}).json()["count"] == 12


def test_solutions_carry_grades_and_prm_scores_and_filter_by_them():
    project = ProjectFactory()
    good = SolutionFactory(problem__project=project, is_correct=True, prm_score=0.9)
    SolutionFactory(problem__project=project, is_correct=False, prm_score=0.2)
    version = ModelVersion.objects.create(
        project=project, status=ModelStatus.READY, backbone="tiny"
    )
    SolutionScore.objects.create(
        model_version=version, solution=good, score=0.9, step_scores=[0.95, 0.9]
    )
    client = client_for(researcher(project))
    listing = client.get("/api/solutions/", {"is_correct": "true"}).json()
    assert [row["id"] for row in listing["results"]] == [good.pk]
    assert listing["results"][0]["prm_score"] == 0.9
    assert client.get("/api/solutions/", {"prm_score_min": 0.5}).json()["count"] == 1
    detail = client.get(f"/api/solutions/{good.pk}/").json()
    assert detail["prm_scores"] == [
        {
            "model_version": version.pk,
            "score": 0.9,
            "step_scores": [0.95, 0.9],
            "truncated": False,
            "created_at": detail["prm_scores"][0]["created_at"],
        }
    ]
    versions = client.get("/api/model-versions/", {"project": project.pk}).json()
    assert [v["id"] for v in versions["results"]] == [version.pk]
    assert "log" not in versions["results"][0]


def test_generations_and_problems_are_listed_with_counts():
    project = import_samples()
    client = client_for(researcher(project))
    generations = client.get("/api/generations/", {"project": project.pk}).json()["results"]
    assert {g["number"]: g["solution_count"] for g in generations} == {6: 9}
    problems = client.get("/api/problems/", {"project": project.pk}).json()
    assert problems["count"] == project.problems.count() > 0


def test_gold_labels_never_reach_annotators_through_any_endpoint():
    project = import_samples()
    labeling = Labeling.objects.filter(project=project).first()
    GoldLabel.objects.create(solution=labeling.solution, labeling=labeling)
    client = client_for(annotator(project))
    for url in ["/api/labelings/", f"/api/labelings/{labeling.pk}/", "/api/solutions/"]:
        assert client.get(url).status_code == 403
    assert client.post(f"/api/labelings/{labeling.pk}/gold/").status_code == 403


def test_statistics_need_membership_for_researchers():
    mine, other = import_samples("mine"), Project.objects.create(name="other")
    client = client_for(researcher(mine))
    assert client.get(f"/api/projects/{mine.pk}/stats/").status_code == 200
    assert client.get(f"/api/projects/{other.pk}/stats/").status_code == 404


def test_submitted_at_round_trips_as_a_date_range_boundary():
    project = import_samples()
    first = Labeling.objects.filter(project=project).order_by("submitted_at").first()
    at = first.submitted_at.astimezone(UTC)
    assert at < datetime(2022, 8, 1, tzinfo=UTC)
    client = client_for(researcher(project))
    body = client.get("/api/labelings/", {"submitted_before": at.isoformat()}).json()
    assert body["count"] == 0
    body = client.get("/api/labelings/", {"submitted_after": at.isoformat()}).json()
    assert body["count"] == 12


def test_list_queries_do_not_grow_with_the_page(django_assert_max_num_queries):
    project = import_samples()
    client = client_for(researcher(project))
    # count + page (+ the user's projects as a subquery); no query per row
    with django_assert_max_num_queries(3):
        assert len(client.get("/api/labelings/", {"page_size": 50}).json()["results"]) == 12
    with django_assert_max_num_queries(3):
        assert len(client.get("/api/solutions/").json()["results"]) == 12


@pytest.mark.parametrize(
    ("after", "status"),
    [
        # offsets Python accepts and PostgreSQL would refuse: converted to UTC first
        ("1657-10-19T18:51:08.26986+17:18", 200),
        ("2022-11-17T14:07:00-23:59", 200),
        ("0001-01-01T00:00:00+05:00", 400),  # before year 1 in UTC
        ("9999-12-31T23:59:00-05:00", 400),  # after year 9999 in UTC
    ],
)
def test_date_filters_with_any_offset_are_answered_not_a_server_error(after, status):
    project = import_samples()
    response = client_for(researcher(project)).get("/api/labelings/", {"submitted_after": after})
    assert response.status_code == status, response.content


@pytest.mark.parametrize(
    "path",
    ["/api/model-versions/", "/api/labelings/", "/api/solutions/", "/api/problems/"],
)
def test_an_id_filter_beyond_the_integer_range_is_a_400(path):
    """Found by the fuzz test on SQLite: 1e225 overflowed its integers (a 500). It then matched
    nothing; since issue 13 an integer no column can hold is a 400 naming the parameter, the
    same on every database (tests/labeling/api/test_input_bounds.py)."""
    import_samples()
    response = client_for(lead()).get(path, {"project": "-1.4515763470889498e+225"})
    assert response.status_code == 400
    assert "project" in response.json()
