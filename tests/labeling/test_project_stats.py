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

from labeling import agreement, project_stats
from labeling.models import Labeling, Project, Role
from labeling.project_stats import (
    StatsFilter,
    compute_statistics,
    project_statistics,
    stats_mark_changed,
)
from labeling.services.prm800k import prm800k_import
from labeling.tasks import project_stats_refresh
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


class Clock:
    def __init__(self, monkeypatch, start):
        self.now = start
        monkeypatch.setattr("labeling.project_stats.time.time", lambda: self.now)


@pytest.fixture
def queued(monkeypatch):
    """The refresh tasks queued (the test broker never runs them)."""
    calls = []
    monkeypatch.setattr(
        "labeling.tasks.project_stats_refresh.apply_async",
        lambda args, kwargs=None, **options: calls.append((args, kwargs)),
    )
    return calls


def test_unchanged_statistics_are_served_from_the_cache(sample_records, monkeypatch, queued):
    project = import_records(overlapping_records(sample_records))
    clock = Clock(monkeypatch, 1_000_000.0)
    first = project_statistics(project)
    assert first["computed_at"] == clock.now
    Labeling.objects.filter(project=project).update(total_time_ms=1)  # unmarked change
    clock.now += project_stats.MAX_AGE - 1
    assert project_statistics(project)["computed_at"] == first["computed_at"]
    assert queued == []
    # past MAX_AGE: still served at once, and a refresh is queued (once)
    clock.now += 2
    assert project_statistics(project)["computed_at"] == first["computed_at"]
    assert project_statistics(project)["computed_at"] == first["computed_at"]
    assert queued == [((project.pk,), {"flt": StatsFilter().as_params()})]
    # past HARD_MAX_AGE (no worker ever refreshed it): computed in the request
    clock.now = first["computed_at"] + project_stats.HARD_MAX_AGE
    later = project_statistics(project)
    assert later["computed_at"] == clock.now
    assert later["throughput"]["labelings_per_hour"] != first["throughput"]["labelings_per_hour"]


def test_a_change_is_shown_within_a_minute(sample_records, monkeypatch, queued):
    project = import_records(overlapping_records(sample_records))
    clock = Clock(monkeypatch, 1_000_000.0)
    first = project_statistics(project)
    clock.now += 5
    Labeling.objects.filter(project=project).update(total_time_ms=1)
    stats_mark_changed(project.pk)
    changed_at = clock.now
    # while the worker recomputes, the old numbers are served, marked stale
    clock.now += project_stats.REFRESH_GRACE - 1
    stale = project_statistics(project)
    assert stale["stale"] is True and stale["computed_at"] == first["computed_at"]
    assert len(queued) == 1
    # the worker's refresh (what the queued task runs) replaces them
    refresh_args, refresh_kwargs = queued[0]
    project_stats_refresh(*refresh_args, **refresh_kwargs)
    fresh = project_statistics(project)
    assert "stale" not in fresh and fresh["computed_at"] == clock.now
    assert fresh["throughput"]["labelings_per_hour"] != first["throughput"]["labelings_per_hour"]
    # no worker: past the grace period the request computes, within a minute of the change
    clock.now += 1
    stats_mark_changed(project.pk)
    changed_at = clock.now
    clock.now += project_stats.REFRESH_GRACE
    assert project_statistics(project)["computed_at"] == clock.now
    assert clock.now - changed_at < project_stats.STALE_AFTER


def test_a_broker_that_is_down_means_computing_in_the_request(sample_records, monkeypatch):
    project = import_records(overlapping_records(sample_records))
    clock = Clock(monkeypatch, 1_000_000.0)
    first = project_statistics(project)

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("labeling.tasks.project_stats_refresh.apply_async", down)
    clock.now += 1
    stats_mark_changed(project.pk)
    clock.now += 1
    again = project_statistics(project)
    assert again["computed_at"] == clock.now != first["computed_at"]


def test_agreement_over_time_puts_every_unit_in_one_period(sample_records):
    records = overlapping_records(sample_records)
    project = import_records(records)
    stats = compute_statistics(project, StatsFilter())
    points = stats["agreement_over_time"]
    # the three labelers submitted on three days: a unit completes on the last one
    assert [p["date"] for p in points] == ["2022-11-10", "2022-11-11", "2022-11-12"]
    assert sum(p["units"] for p in points) == stats["units"]
    assert points[-1]["units"] > 0
    assert sum(p["labelings"] for p in points) == sum(
        1 for r in records if r["label"]["finish_reason"] in ("found_error", "solution")
    )
    # each period's numbers, computed from the records: the units whose last value arrived
    # on the period's day, with all their values
    values, last_day = {}, {}
    for record in records:
        if record["label"]["finish_reason"] not in ("found_error", "solution"):
            continue
        key = (record["question"]["problem"], tuple(record["question"]["pre_generated_steps"]))
        day = record["timestamp"][:10]
        for i, step in enumerate(record["label"]["steps"]):
            rating = step["completions"][0]["rating"]
            if rating is not None:
                values.setdefault((key, i), []).append((record["labeler"], rating))
                last_day[(key, i)] = max(last_day.get((key, i), ""), day)
    for point in points:
        triples = [
            (unit, labeler, rating)
            for unit, pairs in values.items()
            if last_day[unit] == point["date"]
            for labeler, rating in pairs
        ]
        table = agreement.Ratings.from_triples(triples)
        assert point["units"] == len({t[0] for t in triples})
        assert point["percent_agreement"] == pytest.approx(
            agreement.percent_agreement(table), abs=1e-12
        )
        assert point["krippendorff_alpha_ordinal"] == pytest.approx(
            agreement.krippendorff_alpha(table, "ordinal"), abs=1e-12
        )


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
    # three charts, each a canvas with its data (Chart.js draws them in the browser)
    assert html.count("<canvas data-chart=") == 3
    assert html.count('type="application/json"') == 3
    fragment = client.get(
        f"/projects/{project.pk}/stats/", {"generation": "6"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="dashboard">')
    annotator = UserFactory(role=Role.ANNOTATOR)
    client.force_login(annotator)
    assert client.get(f"/projects/{project.pk}/stats/").status_code == 403
