"""Export files for researchers, written incrementally (memory stays flat at any size).

Every format reads the same rows: a project's submitted labelings, filtered (`LabelingFilter`),
in the order they were stored, streamed from a server-side cursor on PostgreSQL.

- `prm800k`: PRM800K JSON Lines through the one PRM800K writer
  (`labeling.services.prm800k_export.prm800k_write`, also behind `manage.py export_prm800k`).
- `training_jsonl` / `training_parquet`: one row per labeling, `prompt` (the problem),
  `completions` (the steps up to and including the first Negative one) and `labels` (one per
  step), built by the PRM training recipe (`training_recipe.prm800k.from_label_steps`): give_up
  and bad_problem labelings are dropped, a quality-control solution counts once, a human Neutral
  maps as `neutral` says. With `neutral` = positive or negative the labels are booleans (True: a
  good step), the stepwise-supervision layout of TRL's PRMTrainer; with `own` they are classes
  0 (negative), 1 (neutral), 2 (positive).
- `steps_csv` / `steps_parquet`: one row per rated completion (human completions included).
"""

import csv
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from labeling import prm800k
from labeling.models import ExportFormat, Labeling, LabelingStatus, Project
from labeling.services.prm800k_export import (
    EXPORT_CHUNK,
    prm800k_write,
    with_adjudication,
    with_progress,
)

# The PRM800K training recipe, shared with the PRM library (Django-free and torch-free); other
# labeling modules take NeutralAs from here.
from training_recipe.prm800k import POSITIVE, NeutralAs, from_label_steps

Progress = Callable[[int], None]
ROW_GROUP_ROWS = 5000  # rows buffered per Parquet row group

EXTENSIONS = {
    ExportFormat.PRM800K: "jsonl",
    ExportFormat.TRAINING_JSONL: "jsonl",
    ExportFormat.TRAINING_PARQUET: "parquet",
    ExportFormat.STEPS_CSV: "csv",
    ExportFormat.STEPS_PARQUET: "parquet",
}
OPTION_KEYS = ("neutral",)  # format options kept beside the filters in `ExportJob.filters`


class FilterError(ValueError):
    """The export's filters are invalid (the message: the filter form's errors as JSON). Its
    own type, so that no other ValueError (a UnicodeEncodeError deep in a query, say) is ever
    reported as "Invalid filters"."""


def export_queryset(project: Project, filters: dict | None = None):
    """The submitted labelings of `project` matching `filters` (the labeling filter's query
    parameters), in storage order. FilterError when a filter is invalid."""
    from labeling.research_filters import LabelingFilter  # imports django-filter

    queryset = (
        Labeling.objects.filter(project=project, status=LabelingStatus.SUBMITTED)
        .select_related("solution__problem", "labeler", "generation")
        .order_by("id")
    )
    params = {k: v for k, v in (filters or {}).items() if k not in OPTION_KEYS}
    filterset = LabelingFilter(data=params, queryset=queryset)
    if not filterset.is_valid():
        raise FilterError(json.dumps(filterset.errors))
    return filterset.qs.order_by("id")


def _stream(queryset, progress: Progress | None) -> Iterator[Labeling]:
    return with_progress(queryset.iterator(chunk_size=EXPORT_CHUNK), progress)


# --- PRM800K ----------------------------------------------------------------------------------


def write_prm800k(queryset, path: Path, progress: Progress | None = None, **_) -> int:
    with open(path, "w", encoding="utf-8", newline="") as out:
        return prm800k_write(_stream(with_adjudication(queryset), progress), out)


# --- PRM training -----------------------------------------------------------------------------


def training_row(labeling: Labeling, neutral: NeutralAs) -> dict | None:
    """The training example of a labeling, or None when the recipe drops it."""
    example = from_label_steps(
        labeling.solution.problem.text, labeling.steps, labeling.finish_reason, neutral
    )
    if example is None:
        return None
    steps, labels = [], []
    for step, label in zip(example.steps, example.labels, strict=True):
        if label is None:  # an unrated step: nothing after it is known either
            break
        steps.append(step)
        labels.append(label)
    if not steps:
        return None
    if neutral != NeutralAs.OWN_CLASS:
        labels = [label == POSITIVE for label in labels]
    return {
        "prompt": example.problem,
        "completions": steps,
        "labels": labels,
        "labeling_id": labeling.pk,
        "solution_id": labeling.solution_id,
        "generation": labeling.generation.number if labeling.generation_id else None,
        "labeler": str(labeling.labeler.labeler_uuid),
        "finish_reason": labeling.finish_reason,
    }


def _training_rows(queryset, neutral: NeutralAs, progress) -> Iterator[dict]:
    seen_quality_control: set[int] = set()
    for labeling in _stream(queryset, progress):
        if labeling.is_quality_control:
            if labeling.solution_id in seen_quality_control:
                continue
            seen_quality_control.add(labeling.solution_id)
        row = training_row(labeling, neutral)
        if row is not None:
            yield row


def training_schema(neutral: NeutralAs) -> pa.Schema:
    label = pa.int8() if neutral == NeutralAs.OWN_CLASS else pa.bool_()
    return pa.schema(
        [
            ("prompt", pa.string()),
            ("completions", pa.list_(pa.string())),
            ("labels", pa.list_(label)),
            ("labeling_id", pa.int64()),
            ("solution_id", pa.int64()),
            ("generation", pa.int32()),
            ("labeler", pa.string()),
            ("finish_reason", pa.string()),
        ]
    )


def write_training_jsonl(queryset, path: Path, progress=None, neutral=NeutralAs.POSITIVE) -> int:
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        for row in _training_rows(queryset, NeutralAs(neutral), progress):
            out.write(json.dumps(row, ensure_ascii=False))
            out.write("\n")
            rows += 1
    return rows


def _write_parquet(rows: Iterator[dict], schema: pa.Schema, path: Path) -> int:
    count = 0
    buffer: dict[str, list] = {name: [] for name in schema.names}
    with pq.ParquetWriter(path, schema) as writer:

        def flush():
            writer.write_table(pa.Table.from_pydict(buffer, schema=schema))
            for column in buffer.values():
                column.clear()

        for row in rows:
            for name in schema.names:
                buffer[name].append(row[name])
            count += 1
            if count % ROW_GROUP_ROWS == 0:
                flush()
        if count % ROW_GROUP_ROWS or count == 0:
            flush()
    return count


def write_training_parquet(queryset, path: Path, progress=None, neutral=NeutralAs.POSITIVE) -> int:
    neutral = NeutralAs(neutral)
    return _write_parquet(
        _training_rows(queryset, neutral, progress), training_schema(neutral), path
    )


# --- one row per rated step -------------------------------------------------------------------

STEP_SCHEMA = pa.schema(
    [
        ("labeling_id", pa.int64()),
        ("solution_id", pa.int64()),
        ("problem_id", pa.int64()),
        ("generation", pa.int32()),
        ("labeler", pa.string()),
        ("submitted_at", pa.string()),
        ("finish_reason", pa.string()),
        ("is_quality_control", pa.bool_()),
        ("is_screening", pa.bool_()),
        ("step_index", pa.int32()),
        ("completion_index", pa.int32()),  # -1: the human completion
        ("is_chosen", pa.bool_()),  # the completion the trajectory continues with
        ("rating", pa.int8()),  # -1, 0, 1
        ("flagged", pa.bool_()),
        ("text", pa.string()),
    ]
)


def step_rows(labeling: Labeling) -> Iterator[dict]:
    common = {
        "labeling_id": labeling.pk,
        "solution_id": labeling.solution_id,
        "problem_id": labeling.solution.problem_id,
        "generation": labeling.generation.number if labeling.generation_id else None,
        "labeler": str(labeling.labeler.labeler_uuid),
        "submitted_at": prm800k.format_timestamp(labeling.submitted_at),
        "finish_reason": labeling.finish_reason,
        "is_quality_control": labeling.is_quality_control,
        "is_screening": labeling.is_screening,
    }
    for i, step in enumerate(labeling.steps):
        chosen = step.get("chosen_completion")
        completions = [(j, c) for j, c in enumerate(step.get("completions") or ())]
        human = step.get("human_completion")
        if human is not None:
            completions.append((-1, human))
        for j, completion in completions:
            if completion.get("rating") is None:
                continue
            yield {
                **common,
                "step_index": i,
                "completion_index": j,
                "is_chosen": j == chosen if j >= 0 else chosen is None,
                "rating": completion["rating"],
                "flagged": completion.get("flagged"),
                "text": completion.get("text"),
            }


def _all_step_rows(queryset, progress) -> Iterator[dict]:
    for labeling in _stream(queryset, progress):
        yield from step_rows(labeling)


def write_steps_csv(queryset, path: Path, progress=None, **_) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=STEP_SCHEMA.names)
        writer.writeheader()
        for row in _all_step_rows(queryset, progress):
            writer.writerow(row)
            count += 1
    return count


def write_steps_parquet(queryset, path: Path, progress=None, **_) -> int:
    return _write_parquet(_all_step_rows(queryset, progress), STEP_SCHEMA, path)


WRITERS = {
    ExportFormat.PRM800K: write_prm800k,
    ExportFormat.TRAINING_JSONL: write_training_jsonl,
    ExportFormat.TRAINING_PARQUET: write_training_parquet,
    ExportFormat.STEPS_CSV: write_steps_csv,
    ExportFormat.STEPS_PARQUET: write_steps_parquet,
}


def write_export(
    *,
    project: Project,
    export_format: str,
    filters: dict | None,
    path: Path,
    progress: Progress | None = None,
) -> int:
    """Write the export to `path` (through a temporary name, so a reader never sees half a
    file); returns the number of rows written."""
    filters = filters or {}
    queryset = export_queryset(project, filters)
    options = {}
    if export_format in (ExportFormat.TRAINING_JSONL, ExportFormat.TRAINING_PARQUET):
        options["neutral"] = NeutralAs(filters.get("neutral") or NeutralAs.POSITIVE)
    partial = path.with_name(path.name + ".partial")
    try:
        rows = WRITERS[ExportFormat(export_format)](queryset, partial, progress, **options)
        partial.replace(path)
    finally:
        if partial.exists():
            os.unlink(partial)
    return rows
