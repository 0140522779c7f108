"""Hinted against unhinted statistics (labeling/hint_stats.py, issue 19 part 2): the
intervals against independent implementations and textbook values, and the project's numbers
on fixed data against a computation written out here by hand."""

import math

import pytest

from labeling import hint_stats
from labeling.models import Generation, HintArm, Labeling, Role
from labeling.stats_compute import StatsFilter, compute_statistics
from tests.factories import LabelingFactory, ProjectFactory, SolutionFactory, UserFactory


def test_wilson_interval_matches_the_textbook_value_and_statsmodels():
    """8 of 10: Wilson (0.4902, 0.9433) (Agresti & Coull 1998 eq. 2 worked by hand). Catches
    the Wald interval (0.552, 1.048) or a missing z²/4 term."""
    low, high = hint_stats.wilson_interval(8, 10)
    assert (low, high) == (pytest.approx(0.49016, abs=1e-4), pytest.approx(0.94331, abs=1e-4))
    assert hint_stats.wilson_interval(0, 0) is None
    statsmodels = pytest.importorskip("statsmodels.stats.proportion", reason="not installed")
    for k, n in [(0, 5), (5, 5), (3, 17), (120, 400)]:
        expected = statsmodels.proportion_confint(k, n, alpha=0.05, method="wilson")
        assert hint_stats.wilson_interval(k, n) == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError, match="not in"):
        hint_stats.wilson_interval(6, 5)


def test_t_quantile_matches_the_table_and_scipy():
    """Table values of t(0.975, df) (df 1: 12.7062, 9: 2.2622, 30: 2.0423); catches using
    z = 1.96 for small samples."""
    for df, value in [(1, 12.7062), (2, 4.3027), (9, 2.2622), (30, 2.0423)]:
        assert hint_stats.t_quantile(0.05, df) == pytest.approx(value, abs=1e-4)
    stats = pytest.importorskip("scipy.stats", reason="scipy not installed")
    for df in [*range(1, 40), 100, 1000]:
        assert hint_stats.t_quantile(0.05, df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-5)


def test_mean_interval_is_the_student_t_interval():
    values = [2.0, 4.0, 4.0, 5.0, 7.0]
    estimate = hint_stats.mean(values)
    m = 4.4
    s = math.sqrt(sum((v - m) ** 2 for v in values) / 4)
    half = 2.776445 * s / math.sqrt(5)  # t(0.975, 4) from the table
    assert estimate.value == pytest.approx(m)
    assert (estimate.low, estimate.high) == (
        pytest.approx(m - half, abs=1e-5),
        pytest.approx(m + half, abs=1e-5),
    )
    assert hint_stats.mean([3.0]).low is None and hint_stats.mean([]).value is None


def _steps(ratings):
    return [
        {
            "completions": [{"text": f"s{i}", "rating": r, "flagged": False}],
            "human_completion": None,
            "chosen_completion": 0 if r != -1 else None,
        }
        for i, r in enumerate(ratings)
    ]


# (arm, ratings, PRM first error, ms, QC: (gold agreement, first-error match) or None)
FIXED = [
    ("hinted", [1, 1, -1], 2, 6000, None),
    ("hinted", [1, -1], 1, 3000, (0.5, True)),
    ("hinted", [1, 1, 1], -1, 9000, (1.0, True)),
    ("hinted", [-1], 2, 1000, (0.0, False)),
    ("unhinted", [1, -1], 0, 8000, None),
    ("unhinted", [1, 1, 1, -1], 3, 16000, (0.75, False)),
    ("unhinted", [1, 1], -1, 10000, (1.0, True)),
]


@pytest.mark.django_db
def test_project_bias_statistics_equal_an_independent_computation(client):
    """Seven labelings with arms, plus one with an arm but no recorded hint and one with no
    arm (both left out: catches counting tasks where no PRM record exists). The expected
    numbers are written out from FIXED by hand; the API and the page carry them."""
    project = ProjectFactory(hints_enabled=True)
    generation = Generation.objects.create(project=project, number=0)
    for arm, ratings, prm, ms, qc in FIXED:
        solution = SolutionFactory(
            problem__project=project, steps=[f"s{i}" for i in range(len(ratings))]
        )
        LabelingFactory(
            solution=solution,
            generation=generation,
            steps=_steps(ratings),
            finish_reason="found_error" if -1 in ratings else "solution",
            total_time_ms=ms,
            hint_arm=arm,
            hint_model_version=7,
            hint_first_error=prm,
            is_quality_control=qc is not None,
            gold_agreement=qc[0] if qc else None,
            gold_first_error_match=qc[1] if qc else None,
        )
    LabelingFactory(solution=SolutionFactory(problem__project=project), hint_arm=HintArm.HINTED)
    LabelingFactory(solution=SolutionFactory(problem__project=project))
    hints = compute_statistics(project, StatsFilter())["hints"]

    hinted, unhinted = hints["hinted"], hints["unhinted"]
    assert (hinted["labelings"], unhinted["labelings"]) == (4, 3)
    # first error vs the PRM: hinted 2 = 2, 1 = 1, -1 = -1, 0 != 2 -> 3 of 4
    assert hinted["prm_first_error_match"]["value"] == pytest.approx(0.75)
    low, high = hint_stats.wilson_interval(3, 4)
    assert (hinted["prm_first_error_match"]["low"], hinted["prm_first_error_match"]["high"]) == (
        low,
        high,
    )
    # unhinted: 1 != 0, 3 = 3, -1 = -1 -> 2 of 3
    assert unhinted["prm_first_error_match"]["value"] == pytest.approx(2 / 3)
    # seconds per step: hinted 2, 1.5, 3, 1 -> mean 1.875; unhinted 4, 4, 5
    assert hinted["seconds_per_step"]["value"] == pytest.approx(1.875)
    assert unhinted["seconds_per_step"]["value"] == pytest.approx(13 / 3)
    sd = math.sqrt(sum((v - 1.875) ** 2 for v in (2, 1.5, 3, 1)) / 3)
    assert hinted["seconds_per_step"]["high"] == pytest.approx(1.875 + 3.182446 * sd / 2, abs=1e-5)
    # first-error position where found: hinted 2, 1, 0; unhinted 1, 3
    assert hinted["first_error_position"]["value"] == pytest.approx(1.0)
    assert unhinted["first_error_position"]["value"] == pytest.approx(2.0)
    # gold: hinted QC 3 (2 matched; agreement .5, 1, 0), unhinted QC 2 (1 matched)
    assert hinted["gold_first_error_match"]["n"] == 3
    assert hinted["gold_first_error_match"]["value"] == pytest.approx(2 / 3)
    assert hinted["gold_step_agreement"]["value"] == pytest.approx(0.5)
    assert unhinted["gold_first_error_match"]["value"] == pytest.approx(0.5)
    assert {e["interval"] for e in hinted.values() if isinstance(e, dict)} == {"wilson", "t"}

    client.force_login(UserFactory(role=Role.LEAD))
    api = client.get(f"/api/projects/{project.pk}/stats/").json()
    assert api["hints"]["hinted"]["seconds_per_step"]["value"] == pytest.approx(1.875)
    html = client.get(f"/projects/{project.pk}/stats/").content.decode()
    assert 'data-testid="hint-bias"' in html and "1.88" in html and "Hinted (4)" in html
    assert Labeling.objects.filter(project=project).count() == 9


def _wilson_by_hand(k, n, z=1.959963984540054):
    p = k / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5)
    return center - half, min(1.0, center + half)


def test_bias_statistics_on_a_hand_table_with_a_one_sample_arm_and_empty_metrics():
    """A fixed table computed by hand (Wilson 2/3 = [0.2077, 0.9385], the textbook value;
    t(0.975, 2) = 4.3027, t(0.975, 1) = 12.7062 from the t table). Catches a wrong
    interval, an interval made up for one sample (None is returned), and an empty metric
    that is not n 0 / value None."""
    from labeling.hint_stats import HintedLabeling, bias_statistics

    rows = [
        HintedLabeling("hinted", True, [1, -1], 1, 4000),  # match, 2 s/step, first error 1
        HintedLabeling("hinted", True, [1, 1, 1], -1, 6000),  # match, 2 s/step, none
        HintedLabeling("hinted", True, [-1], 2, 3000),  # no match, 3 s/step, first error 0
        HintedLabeling("unhinted", True, [1, 1, -1], 2, 9000),  # one sample
        HintedLabeling("", True, [1], -1, 1000),  # no arm: ignored
    ]
    stats = bias_statistics(rows)
    hinted, unhinted = stats["hinted"], stats["unhinted"]
    assert (hinted["labelings"], unhinted["labelings"]) == (3, 1)
    match = hinted["prm_first_error_match"]
    assert (match["n"], match["value"]) == (3, pytest.approx(2 / 3))
    assert (match["low"], match["high"]) == (
        pytest.approx(0.2077, abs=1e-4),
        pytest.approx(0.9385, abs=1e-4),
    )
    assert (match["low"], match["high"]) == pytest.approx(_wilson_by_hand(2, 3))
    sps = hinted["seconds_per_step"]
    half = 4.302653 * (1 / 3) ** 0.5 / 3**0.5
    assert (sps["n"], sps["value"]) == (3, pytest.approx(7 / 3))
    assert (sps["low"], sps["high"]) == pytest.approx((7 / 3 - half, 7 / 3 + half), abs=1e-4)
    position = hinted["first_error_position"]
    half = 12.706205 * 0.5**0.5 / 2**0.5
    assert (position["n"], position["value"]) == (2, 0.5)
    assert (position["low"], position["high"]) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-3)
    # one-sample arm: a mean has no interval; a proportion still has Wilson's
    assert unhinted["seconds_per_step"] == {
        "n": 1,
        "value": 3.0,
        "low": None,
        "high": None,
        "interval": "t",
    }
    assert unhinted["first_error_position"]["low"] is None
    one = unhinted["prm_first_error_match"]
    assert (one["value"], one["high"]) == (1.0, 1.0)
    assert one["low"] == pytest.approx(_wilson_by_hand(1, 1)[0])
    # no quality-control labelings: empty metrics
    for arm in (hinted, unhinted):
        assert arm["gold_first_error_match"]["n"] == 0
        assert arm["gold_first_error_match"]["value"] is None
        assert arm["gold_step_agreement"] == {
            "n": 0,
            "value": None,
            "low": None,
            "high": None,
            "interval": "t",
        }


def test_identical_values_give_a_zero_width_interval_and_an_empty_arm_is_empty():
    """All-identical times: s = 0, so the interval is the point (catches a NaN or an error);
    no labelings at all: both arms say 0 with no value."""
    from labeling.hint_stats import HintedLabeling, bias_statistics

    rows = [HintedLabeling("unhinted", True, [1, 1], -1, 4000) for _ in range(4)]
    sps = bias_statistics(rows)["unhinted"]["seconds_per_step"]
    assert (sps["n"], sps["value"], sps["low"], sps["high"]) == (4, 2.0, 2.0, 2.0)
    empty = bias_statistics([])
    assert empty["hinted"]["labelings"] == empty["unhinted"]["labelings"] == 0
    assert empty["hinted"]["prm_first_error_match"]["value"] is None
