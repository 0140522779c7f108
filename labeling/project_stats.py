"""Project statistics for leads: agreement, quality control, throughput (reads only).

Which labelings count: submitted ones of the project, optionally of one generation and
submitted within [since, until). Agreement uses those that ended `found_error` or `solution`;
throughput and behaviour use all of them. Definitions of the agreement statistics are in
`labeling.agreement`; the others are defined where they are computed, below, and in
docs/statistics.md.

Results are cached per (project, filters) for at most STALE_AFTER seconds: a submit is reflected
within a minute, and a warm cache answers at once at PRM800K scale (see docs/benchmarks.md).
"""

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.core.cache import cache
from django.db import connection
from django.db.models import Avg, Count, FloatField, IntegerField, Q
from django.db.models.functions import Cast, TruncDate

from labeling import agreement
from labeling.models import (
    FinishReason,
    Labeling,
    LabelingStatus,
    Membership,
    Project,
)

STALE_AFTER = 60  # seconds; the issue allows stats to lag a submit by at most a minute
AGREEMENT_REASONS = (FinishReason.FOUND_ERROR, FinishReason.SOLUTION)
MAX_REASONS_SHOWN = 100
TIME_POINTS = 20  # points on the agreement-over-time curve


@dataclass(frozen=True)
class StatsFilter:
    generation: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def key(self) -> str:
        raw = f"{self.generation}|{self.since and self.since.isoformat()}|"
        raw += f"{self.until and self.until.isoformat()}"
        return hashlib.sha1(raw.encode()).hexdigest()[:16]


def _labelings(project: Project, flt: StatsFilter):
    queryset = Labeling.objects.filter(project=project, status=LabelingStatus.SUBMITTED)
    if flt.generation is not None:
        queryset = queryset.filter(generation__number=flt.generation)
    if flt.since is not None:
        queryset = queryset.filter(submitted_at__gte=flt.since)
    if flt.until is not None:
        queryset = queryset.filter(submitted_at__lt=flt.until)
    return queryset


def project_statistics(project: Project, flt: StatsFilter | None = None, *, fresh=False) -> dict:
    """The statistics, from the cache when it is under a minute old (or computed now)."""
    flt = flt or StatsFilter()
    key = f"project-stats:{project.pk}:{flt.key()}"
    cached = None if fresh else cache.get(key)
    if cached is not None and time.time() - cached["computed_at"] < STALE_AFTER:
        return cached
    stats = compute_statistics(project, flt)
    cache.set(key, stats, timeout=STALE_AFTER * 10)
    return stats


def compute_statistics(project: Project, flt: StatsFilter) -> dict:
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
        "computed_at": time.time(),
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
    meta = list(
        labelings.order_by("id").values_list(
            "id", "solution_id", "labeler_id", "total_time_ms", "finish_reason", "submitted_at"
        )
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
        days=np.asarray([m[5].date().toordinal() for m in meta], dtype=np.int64),
        labeler_keys=keys,
        row_labeling=np.searchsorted(ids, rows[:, 0]),
        row_step=rows[:, 1],
        row_rating=rows[:, 2],
    )


def _table(data: _Data, labeling_mask: np.ndarray) -> agreement.Ratings:
    """Ratings of the masked labelings as units (solution, step) x labelers; the last value
    per (unit, labeler) wins: a later labeling of one solution by one person replaces the
    earlier one."""
    use = labeling_mask[data.row_labeling]
    at = data.row_labeling[use]
    if not len(at):
        return agreement.Ratings(*(np.zeros(0, dtype=np.int64),) * 3)
    order = np.argsort(at, kind="stable")
    at = at[order]
    solutions, labelers = data.solutions[at], data.labelers[at]
    steps, ratings = data.row_step[use][order], data.row_rating[use][order]
    _, unit_index = np.unique(solutions * 100_000 + steps, return_inverse=True)
    pair = unit_index * (labelers.max() + 1) + labelers
    keep = np.sort(len(pair) - 1 - np.unique(pair[::-1], return_index=True)[1])
    labeler_ids, labeler_index = np.unique(labelers[keep], return_inverse=True)
    return agreement.Ratings(
        unit_index[keep],
        labeler_index,
        ratings[keep],
        tuple(data.labeler_keys[int(i)][0] for i in labeler_ids),
    )


def _over_time(data: _Data) -> list[dict]:
    """Agreement on all labelings submitted up to each of at most TIME_POINTS days."""
    counted = data.days[data.counts_for_agreement]
    if not len(counted):
        return []
    days = np.unique(counted)
    if len(days) > TIME_POINTS:
        days = days[np.linspace(0, len(days) - 1, TIME_POINTS).round().astype(int)]
    points = []
    for day in days:
        table = _table(data, data.counts_for_agreement & (data.days <= day))
        points.append(
            {
                "date": datetime.fromordinal(int(day)).date().isoformat(),
                "labelings": int((data.counts_for_agreement & (data.days <= day)).sum()),
                "percent_agreement": agreement.percent_agreement(table),
                "krippendorff_alpha_ordinal": agreement.krippendorff_alpha(table, "ordinal"),
            }
        )
    return points


def _agreement(data: _Data) -> dict:
    table = _table(data, data.counts_for_agreement)
    # first Negative per labeling (len = none), grouped by solution
    first = np.full(len(data.ids), -1, dtype=np.int64)
    negative = data.row_rating == -1
    if negative.any():
        first_neg = np.full(len(data.ids), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_neg, data.row_labeling[negative], data.row_step[negative])
        first = np.where(first_neg == np.iinfo(np.int64).max, -1, first_neg)
    by_solution: dict[int, list[int]] = {}
    for solution, value, counted in zip(
        data.solutions.tolist(), first.tolist(), data.counts_for_agreement.tolist(), strict=True
    ):
        if counted:
            by_solution.setdefault(solution, []).append(value)
    return {
        "units": len(np.unique(table.units)) if len(table) else 0,
        "ratings": len(table),
        "krippendorff_alpha_ordinal": agreement.krippendorff_alpha(table, "ordinal"),
        "krippendorff_alpha_nominal": agreement.krippendorff_alpha(table, "nominal"),
        "percent_agreement": agreement.percent_agreement(table),
        "fleiss_kappa": agreement.fleiss_kappa(table),
        "first_error_agreement": agreement.first_error_agreement(by_solution.values()),
        "pairwise_cohen_kappa": [
            {"labeler_a": p.labeler_a, "labeler_b": p.labeler_b, "kappa": p.kappa, "n": p.n}
            for p in agreement.pairwise_cohen_kappa(table)
        ],
        "agreement_over_time": _over_time(data),
    }


def _quality_control(project: Project, labelings) -> list[dict]:
    """Per labeler: gold questions answered, mean step agreement with gold, share with the
    first Negative where gold has it, and the screening result."""
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
    for membership in Membership.objects.filter(project=project).select_related("user"):
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
