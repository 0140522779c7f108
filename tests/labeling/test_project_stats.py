"""Project statistics end to end: imported PRM800K data with overlapping labelers, the API,
filters, caching and the dashboard."""

import copy
import io
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from labeling import agreement
from labeling.models import Labeling, Project, Role
from labeling.project_stats import StatsFilter, compute_statistics, project_statistics
from labeling.services.prm800k import prm800k_import
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def overlapping_records(sample_records, labelers=3, seed=7):
    """Every phase-2 sample solution labeled by `labelers` people with perturbed ratings."""
    rng = random.Random(seed)
    people = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(labelers)]
    records = []
    for base in (r for r in sample_records if r["generation"] == 6):
        for n, person in enumerate(people):
            record = copy.deepcopy(base)
            record["labeler"] = person
            record["timestamp"] = f"2022-11-{10 + n:02d}T10:00:00.{rng.randrange(10**6):06d}"
            steps = record["label"]["steps"]
            for step in steps[:-1]:
                if rng.random() < 0.3:
                    step["completions"][0]["rating"] = rng.choice([0, 1])
            if rng.random() < 0.3:  # this labeler found no error: stop before the last step
                del steps[-1]
                record["label"]["finish_reason"] = "solution" if rng.random() < 0.5 else "give_up"
            records.append(record)
    return records


def expected_from_records(records):
    """The statistics computed straight from the JSON records, not through the database."""
    triples, first_errors = [], {}
    for record in records:
        if record["label"]["finish_reason"] not in ("found_error", "solution"):
            continue
        key = (record["question"]["problem"], tuple(record["question"]["pre_generated_steps"]))
        first = None
        for i, step in enumerate(record["label"]["steps"]):
            rating = step["completions"][0]["rating"]
            if rating is not None:
                triples.append(((key, i), record["labeler"], rating))
            if rating == -1 and first is None:
                first = i
        first_errors.setdefault(key, []).append(first)
    return agreement.Ratings.from_triples(triples), first_errors


def import_records(records, project="overlap"):
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    prm800k_import(stream=io.BytesIO(data), name="f.jsonl", project_name=project)
    return Project.objects.get(name=project)


def test_statistics_on_imported_overlapping_prm800k_match_the_definitions(sample_records):
    records = overlapping_records(sample_records)
    project = import_records(records)
    stats = compute_statistics(project, StatsFilter())
    ratings, first_errors = expected_from_records(records)
    for name, value in [
        ("krippendorff_alpha_ordinal", agreement.krippendorff_alpha(ratings, "ordinal")),
        ("krippendorff_alpha_nominal", agreement.krippendorff_alpha(ratings, "nominal")),
        ("percent_agreement", agreement.percent_agreement(ratings)),
        ("fleiss_kappa", agreement.fleiss_kappa(ratings)),
        ("first_error_agreement", agreement.first_error_agreement(first_errors.values())),
    ]:
        assert stats[name] == pytest.approx(value, abs=1e-12), name
    expected_pairs = {
        (p.labeler_a, p.labeler_b): (p.kappa, p.n) for p in agreement.pairwise_cohen_kappa(ratings)
    }
    got_pairs = {
        tuple(sorted((p["labeler_a"], p["labeler_b"]))): (p["kappa"], p["n"])
        for p in stats["pairwise_cohen_kappa"]
    }
    assert len(got_pairs) == 3
    for (a, b), (kappa, n) in expected_pairs.items():
        got_kappa, got_n = got_pairs[tuple(sorted((a, b)))]
        assert got_n == n and got_kappa == pytest.approx(kappa, abs=1e-12)
    assert stats["ratings"] == len(ratings)
    assert sum(stats["finish_reasons"].values()) == len(records)


def test_throughput_and_rating_distribution(sample_records):
    records = overlapping_records(sample_records, labelers=2)
    project = import_records(records)
    stats = compute_statistics(project, StatsFilter())
    throughput = stats["throughput"]
    assert throughput["labelings"] == len(records)
    total_ms = sum(r["label"]["total_time"] for r in records)
    assert throughput["labelings_per_hour"] == pytest.approx(len(records) / (total_ms / 3.6e6))
    person = records[0]["labeler"]
    mine = [r for r in records if r["labeler"] == person]
    row = next(r for r in throughput["per_labeler"] if r["labeler"] == person)
    ratings = [s["completions"][0]["rating"] for r in mine for s in r["label"]["steps"]]
    assert row["ratings"] == {str(v): ratings.count(v) for v in (-1, 0, 1)}
    per_step = sorted(r["label"]["total_time"] / len(r["label"]["steps"]) / 1000 for r in mine)
    assert row["seconds_per_step_median"] == pytest.approx(
        (per_step[len(per_step) // 2 - 1] + per_step[len(per_step) // 2]) / 2
        if len(per_step) % 2 == 0
        else per_step[len(per_step) // 2]
    )


def test_filters_by_generation_and_date(sample_records):
    records = overlapping_records(sample_records)
    project = import_records(records)
    assert compute_statistics(project, StatsFilter(generation=3))["throughput"]["labelings"] == 0
    first_day = datetime(2022, 11, 10, tzinfo=UTC)
    day = compute_statistics(project, StatsFilter(since=first_day, until=first_day + timedelta(1)))
    assert day["throughput"]["labelings"] == len(records) // 3
    assert day["percent_agreement"] is None  # one labeler per solution that day


def test_statistics_take_a_fixed_number_of_queries(sample_records, django_assert_max_num_queries):
    project = import_records(overlapping_records(sample_records))
    with django_assert_max_num_queries(12):
        compute_statistics(project, StatsFilter())


def test_cached_for_at_most_a_minute(sample_records, monkeypatch):
    project = import_records(overlapping_records(sample_records))
    first = project_statistics(project)
    Labeling.objects.filter(project=project).update(total_time_ms=1)
    assert project_statistics(project)["computed_at"] == first["computed_at"]  # cached
    clock = first["computed_at"] + 61
    monkeypatch.setattr("labeling.project_stats.time.time", lambda: clock)
    later = project_statistics(project)
    assert later["computed_at"] == clock
    assert later["throughput"]["labelings_per_hour"] != first["throughput"]["labelings_per_hour"]


def test_api_for_leads_and_researchers_only(sample_records):
    project = import_records(overlapping_records(sample_records))
    url = f"/api/projects/{project.pk}/stats/"
    annotator = UserFactory(role=Role.ANNOTATOR)
    project.members.add(annotator)
    client = APIClient()
    client.force_authenticate(annotator)
    assert client.get(url).status_code == 403
    researcher = UserFactory(role=Role.RESEARCHER)
    client.force_authenticate(researcher)
    assert client.get(url).status_code == 404  # not a member
    project.members.add(researcher)
    body = client.get(url, {"generation": 6}).json()
    for key in (
        "krippendorff_alpha_ordinal",
        "krippendorff_alpha_nominal",
        "percent_agreement",
        "fleiss_kappa",
        "first_error_agreement",
        "pairwise_cohen_kappa",
        "qc",
        "throughput",
    ):
        assert key in body
    assert {"labeler_a", "labeler_b", "kappa", "n"} <= set(body["pairwise_cohen_kappa"][0])
    client.force_authenticate(UserFactory(role=Role.LEAD))
    assert client.get(url, {"since": "yesterday"}).status_code == 400
    bad = client.get(url, {"since": "2022-11-12", "until": "2022-11-01"})
    assert bad.status_code == 400 and "until" in bad.json()


def test_dashboard_page_shows_numbers_and_charts(client, sample_records):
    project = import_records(overlapping_records(sample_records))
    client.force_login(UserFactory(role=Role.LEAD))
    response = client.get(f"/projects/{project.pk}/stats/")
    html = response.content.decode()
    stats = project_statistics(project)
    assert response.status_code == 200
    assert f"{stats['percent_agreement']:.3f}" in html
    assert html.count("<svg") == 3
    fragment = client.get(
        f"/projects/{project.pk}/stats/", {"generation": "6"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="dashboard">')
    annotator = UserFactory(role=Role.ANNOTATOR)
    client.force_login(annotator)
    assert client.get(f"/projects/{project.pk}/stats/").status_code == 404
