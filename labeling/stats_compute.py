"""Computing a project's statistics (labeling/project_stats.py serves and caches them):
agreement over the labelings that ended `found_error` or `solution`, quality control against
gold, throughput and behaviour over all submitted ones matching a `StatsFilter`. Definitions of
the agreement statistics are in `labeling.agreement`; the others are defined where they are
computed, below, and in docs/statistics.md.
"""

import hashlib
import time
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from django.db import connection
from django.db.models import Avg, Count, FloatField, IntegerField, Q
from django.db.models.functions import Cast, TruncDate

from labeling import agreement, gold_agreement, hint_stats
from labeling.models import (
    FinishReason,
    Labeling,
    LabelingStatus,
    Membership,
    Project,
    Role,
)

AGREEMENT_REASONS = (FinishReason.FOUND_ERROR, FinishReason.SOLUTION)
MAX_REASONS_SHOWN = 100
TIME_POINTS = 20  # periods on the agreement-over-time curve


@dataclass(frozen=True)
class StatsFilter:
    generation: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def key(self) -> str:
        raw = f"{self.generation}|{self.since and self.since.isoformat()}|"
        raw += f"{self.until and self.until.isoformat()}"
        return hashlib.sha1(raw.encode()).hexdigest()[:16]

    def as_params(self) -> dict:
        return {
            "generation": self.generation,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    @classmethod
    def from_params(cls, params: dict) -> "StatsFilter":
        return cls(
            generation=params.get("generation"),
            since=datetime.fromisoformat(params["since"]) if params.get("since") else None,
            until=datetime.fromisoformat(params["until"]) if params.get("until") else None,
        )


def _labelings(project: Project, flt: StatsFilter):
    queryset = Labeling.objects.filter(project=project, status=LabelingStatus.SUBMITTED)
    if flt.generation is not None:
        queryset = queryset.filter(generation__number=flt.generation)
    if flt.since is not None:
        queryset = queryset.filter(submitted_at__gte=flt.since)
    if flt.until is not None:
        queryset = queryset.filter(submitted_at__lt=flt.until)
    return queryset


def compute_statistics(project: Project, flt: StatsFilter) -> dict:
    computed_at = time.time()  # when the data was read: a change after it makes this stale
    started = time.perf_counter()
    labelings = _labelings(project, flt)
    data = _fetch(labelings)
    return {
        "project": project.pk,
        "filter": {
            "generation": flt.generation,
            "since": flt.since.isoformat() if flt.since else None,
            "until": flt.until.isoformat() if flt.until else None,
        },
        **_agreement(data),
        "qc": _quality_control(project, labelings),
        "hints": _hint_bias(labelings),
        "throughput": _throughput(data, labelings),
        "finish_reasons": dict(
            labelings.values_list("finish_reason").annotate(n=Count("id")).order_by()
        ),
        "reasons": [
            {"finish_reason": r, "reason": text, "labeler": str(uuid), "labeling": pk}
            for pk, r, text, uuid in labelings.filter(
                finish_reason__in=[FinishReason.GIVE_UP, FinishReason.BAD_PROBLEM]
            )
            .exclude(reason="")
            .order_by("-submitted_at")
            .values_list("pk", "finish_reason", "reason", "labeler__labeler_uuid")[
                :MAX_REASONS_SHOWN
            ]
        ],
        "computed_at": computed_at,
        "compute_seconds": round(time.perf_counter() - started, 3),
    }


@dataclass
class _Data:
    """Labelings (one row each, in id order) and their non-null first-completion ratings."""

    ids: np.ndarray
    solutions: np.ndarray
    labelers: np.ndarray
    times: np.ndarray  # total_time_ms, 0 when unknown
    counts_for_agreement: np.ndarray  # bool: ended found_error or solution
    days: np.ndarray  # submit date as a proleptic ordinal
    labeler_keys: dict  # labeler id -> (uuid string, username)
    row_labeling: np.ndarray  # index into ids, per rating
    row_step: np.ndarray
    row_rating: np.ndarray


def _fetch(labelings) -> _Data:
    """Everything the numbers need, as arrays: one query for the labelings, one for their
    ratings (an ORM object per rating would dominate the time at a million ratings)."""
    # the submit date comes from the database (a date parses much faster than a timestamp)
    meta = list(
        labelings.order_by("id")
        .annotate(day=TruncDate("submitted_at"))
        .values_list("id", "solution_id", "labeler_id", "total_time_ms", "finish_reason", "day")
    )
    ids = np.asarray([m[0] for m in meta], dtype=np.int64)
    keys = {
        pk: (str(uuid), username)
        for pk, uuid, username in labelings.values_list(
            "labeler_id", "labeler__labeler_uuid", "labeler__username"
        ).distinct()
    }
    ids_sql, ids_params = labelings.values("id").query.sql_with_params()
    sql = (
        "SELECT labeling_id, step_index, rating FROM labeling_steprating "
        f"WHERE completion_index = 0 AND rating IS NOT NULL AND labeling_id IN ({ids_sql})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ids_params)
        rows = np.asarray(cursor.fetchall(), dtype=np.int64).reshape(-1, 3)
    return _Data(
        ids=ids,
        solutions=np.asarray([m[1] for m in meta], dtype=np.int64),
        labelers=np.asarray([m[2] for m in meta], dtype=np.int64),
        times=np.asarray([m[3] or 0 for m in meta], dtype=np.int64),
        counts_for_agreement=np.asarray([m[4] in AGREEMENT_REASONS for m in meta], dtype=bool),
        days=np.asarray([m[5].toordinal() for m in meta], dtype=np.int64),
        labeler_keys=keys,
        row_labeling=np.searchsorted(ids, rows[:, 0]),
        row_step=rows[:, 1],
        row_rating=rows[:, 2],
    )


def _table(data: _Data, labeling_mask: np.ndarray) -> tuple[agreement.Ratings, np.ndarray]:
    """Ratings of the masked labelings as units (solution, step) x labelers; the last value
    per (unit, labeler) wins: a later labeling of one solution by one person replaces the
    earlier one. Also returns, per value, the index of the labeling it came from."""
    use = labeling_mask[data.row_labeling]
    at = data.row_labeling[use]
    if not len(at):
        empty = np.zeros(0, dtype=np.int64)
        return agreement.Ratings(empty, empty, empty), empty
    order = np.argsort(at, kind="stable")
    at = at[order]
    solutions, labelers = data.solutions[at], data.labelers[at]
    steps, ratings = data.row_step[use][order], data.row_rating[use][order]
    _, unit_index = np.unique(solutions * 100_000 + steps, return_inverse=True)
    pair = unit_index * (labelers.max() + 1) + labelers
    keep = np.sort(len(pair) - 1 - np.unique(pair[::-1], return_index=True)[1])
    labeler_ids, labeler_index = np.unique(labelers[keep], return_inverse=True)
    table = agreement.Ratings(
        unit_index[keep],
        labeler_index,
        ratings[keep],
        tuple(data.labeler_keys[int(i)][0] for i in labeler_ids),
    )
    return table, at[keep]


def _over_time(data: _Data, table: agreement.Ratings, source: np.ndarray, counts) -> list[dict]:
    """Agreement per period: the submit days are cut into at most TIME_POINTS periods, and
    each unit belongs to the period of the day its last value arrived (when it became what it
    is); a period's numbers are over its units with all their values. Every unit counts in
    exactly one period, so the curve costs one pass over the data (a cumulative curve would
    recompute everything TIME_POINTS times: seconds at a million ratings). `counts` is
    `agreement.unit_counts(table)`."""
    if not len(table):
        return []
    unit_day = np.zeros(len(counts), dtype=np.int64)
    np.maximum.at(unit_day, table.units, data.days[source])
    present = counts.sum(axis=1) > 0
    days = np.unique(unit_day[present])
    if len(days) > TIME_POINTS:  # period ends: evenly spaced among the days with data
        days = days[np.linspace(0, len(days) - 1, TIME_POINTS).round().astype(int)]
    unit_period = np.searchsorted(days, unit_day)
    labelings_per_period = np.bincount(
        np.searchsorted(days, data.days[data.counts_for_agreement]), minlength=len(days) + 1
    )
    points, start_day = [], None
    for i, day in enumerate(days):
        part = counts[present & (unit_period == i)]
        points.append(
            {
                "start": (start_day or date.fromordinal(int(day))).isoformat(),
                "date": date.fromordinal(int(day)).isoformat(),
                "labelings": int(labelings_per_period[i]),
                "units": len(part),
                "percent_agreement": agreement.percent_agreement_from_counts(part),
                "krippendorff_alpha_ordinal": agreement.alpha_from_counts(part, "ordinal"),
            }
        )
        start_day = date.fromordinal(int(day) + 1)
    return points


def _agreement(data: _Data) -> dict:
    table, source = _table(data, data.counts_for_agreement)
    # first Negative per labeling (len = none), grouped by solution
    first = np.full(len(data.ids), -1, dtype=np.int64)
    negative = data.row_rating == -1
    if negative.any():
        first_neg = np.full(len(data.ids), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_neg, data.row_labeling[negative], data.row_step[negative])
        first = np.where(first_neg == np.iinfo(np.int64).max, -1, first_neg)
    counts = agreement.unit_counts(table)  # once, for the four statistics that need only it
    return {
        "units": int((counts.sum(axis=1) > 0).sum()),
        "ratings": len(table),
        "krippendorff_alpha_ordinal": agreement.alpha_from_counts(counts, "ordinal"),
        "krippendorff_alpha_nominal": agreement.alpha_from_counts(counts, "nominal"),
        "percent_agreement": agreement.percent_agreement_from_counts(counts),
        "fleiss_kappa": agreement.fleiss_kappa_from_counts(counts),
        "first_error_agreement": agreement.first_error_agreement_arrays(
            data.solutions[data.counts_for_agreement], first[data.counts_for_agreement]
        ),
        "pairwise_cohen_kappa": [
            {"labeler_a": p.labeler_a, "labeler_b": p.labeler_b, "kappa": p.kappa, "n": p.n}
            for p in agreement.pairwise_cohen_kappa(table)
        ],
        "agreement_over_time": _over_time(data, table, source, counts),
    }


def _quality_control(project: Project, labelings) -> list[dict]:
    """Per annotator (leads and researchers are members but never screened): gold questions
    answered, mean step agreement with gold, share with the first Negative where gold has it,
    and the screening result."""
    rows = {
        row["labeler_id"]: row
        for row in labelings.filter(Q(is_quality_control=True) | Q(is_screening=True))
        .filter(gold_agreement__isnull=False)
        .values("labeler_id")
        .annotate(
            n=Count("id"),
            step_agreement=Avg("gold_agreement"),
            first_error_match=Avg(
                Cast(Cast("gold_first_error_match", IntegerField()), FloatField())
            ),
        )
    }
    result = []
    annotators = Membership.objects.filter(project=project, user__role=Role.ANNOTATOR)
    for membership in annotators.select_related("user"):
        row = rows.get(membership.user_id, {})
        result.append(
            {
                "labeler": str(membership.user.labeler_uuid),
                "username": membership.user.username,
                "questions": row.get("n", 0),
                "step_agreement": row.get("step_agreement"),
                "first_error_match": row.get("first_error_match"),
                "screening": membership.screening_status,
                "screening_score": membership.screening_score,
                "paused": membership.paused,
            }
        )
    return result


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def _throughput(data: _Data, labelings) -> dict:
    """Per labeler and overall. Rates are per hour of labeling time (the sum of the labelings'
    total_time: time the task page was open and visible), so idle days do not count. Time per
    step = a labeling's total time / its rated steps, over labelings with both; median and
    90th percentile."""
    n = len(data.ids)
    rated = np.bincount(data.row_labeling, minlength=n)
    seconds_per_step = np.where(rated > 0, data.times / np.maximum(rated, 1) / 1000, np.nan)
    timed = (data.times > 0) & (rated > 0)
    rating_counts = np.zeros((n, 3), dtype=np.int64)
    np.add.at(rating_counts, (data.row_labeling, data.row_rating + 1), 1)
    rows = []
    for labeler_id, (uuid, username) in data.labeler_keys.items():
        mine = data.labelers == labeler_id
        count, steps = int(mine.sum()), int(rated[mine].sum())
        hours = data.times[mine].sum() / 3_600_000
        per_step = seconds_per_step[mine & timed]
        counts = rating_counts[mine].sum(axis=0)
        total = int(counts.sum())
        rows.append(
            {
                "labeler": uuid,
                "username": username,
                "labelings": count,
                "steps": steps,
                "labelings_per_hour": count / hours if hours else None,
                "steps_per_hour": steps / hours if hours else None,
                "seconds_per_step_median": _percentile(per_step, 50),
                "seconds_per_step_p90": _percentile(per_step, 90),
                "ratings": {"-1": int(counts[0]), "0": int(counts[1]), "1": int(counts[2])},
                "rating_shares": {
                    key: (int(c) / total if total else None)
                    for key, c in zip(("-1", "0", "1"), counts, strict=True)
                },
            }
        )
    hours = data.times.sum() / 3_600_000
    daily = [
        {"date": day.isoformat(), "labelings": count}
        for day, count in labelings.annotate(day=TruncDate("submitted_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .order_by("day")
    ]
    return {
        "labelings": n,
        "steps": int(rated.sum()),
        "labelings_per_hour": n / hours if hours else None,
        "steps_per_hour": int(rated.sum()) / hours if hours else None,
        "seconds_per_step_median": _percentile(seconds_per_step[timed], 50),
        "seconds_per_step_p90": _percentile(seconds_per_step[timed], 90),
        "per_labeler": sorted(rows, key=lambda r: r["username"]),
        "daily": daily,
    }


def _hint_bias(labelings) -> dict:
    """Hinted against unhinted labelings (labeling/hint_stats.py, docs/model-assisted.md):
    `{"hinted": {...}, "unhinted": {...}}`. A labeling counts in an arm when it has the PRM's
    recorded hint (`hint_model_version` set; for the hinted arm that is the hint shown);
    screening questions have no arm. One query, of the labelings with an arm only."""
    rows = (
        labelings.exclude(hint_arm="")
        .filter(hint_model_version__isnull=False)
        .values_list(
            "hint_arm",
            "finish_reason",
            "steps",
            "hint_first_error",
            "total_time_ms",
            "is_quality_control",
            "gold_agreement",
            "gold_first_error_match",
        )
    )
    return hint_stats.bias_statistics(
        hint_stats.HintedLabeling(
            arm=arm,
            ended=reason in AGREEMENT_REASONS,
            ratings=gold_agreement.first_ratings(steps or []),
            prm_first_error=prm_first_error,
            total_time_ms=time_ms,
            gold_agreement=gold if qc else None,
            gold_first_error_match=match if qc else None,
        )
        for arm, reason, steps, prm_first_error, time_ms, qc, gold, match in rows
    )
