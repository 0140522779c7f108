"""Importing candidate solutions: ProcessBench's JSON and a plain JSON Lines layout.

JSON Lines records carry the problem as `problem` (text; matched exactly, or created) or as a
reference to a problem already in the project (`problem_id`, our id, or `problem_external_id`,
e.g. MATH's `unique_id`); `steps` as a list of strings or as one text (split into steps at blank
lines); and optionally `answer` (alias `final_answer`; found in the last step when absent),
`reference_answer`, `generator`, `metadata` (an object: sampling settings and the like), `id` and
`is_correct`. ProcessBench records carry `id`, `generator`, `problem`, `steps`,
`final_answer_correct` and `label` (the experts' first wrong step, kept in the metadata).
"""

import re
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max

from labeling.answers import final_answer as answer_in_steps
from labeling.errors import ApplicationError
from labeling.models import Generation, GenerationItem, Problem, Solution
from labeling.prm800k import ANSWER_MARKER
from labeling.record_files import iter_records
from labeling.services.prm800k import (
    MAX_REPORTED_ERRORS,
    project_get_or_create,
    sha256,
    steps_hash,
)
from labeling.services.problems import strip_prompt_suffix
from labeling.services.quality import generation_items_recount

SOURCE_PROCESSBENCH = "processbench"
SOURCE_IMPORT = "import"


@dataclass
class SolutionRecord:
    problem: str | None  # None when the record refers to a problem by id or external id
    steps: list[str]
    answer: str | None
    reference_answer: str | None
    generator: str
    external_id: str
    is_correct: bool | None
    source: str
    metadata: dict = field(default_factory=dict)
    problem_id: int | None = None
    problem_external_id: str | None = None
    where: str = ""  # FILE:LINE, for errors found after reading (an unknown problem reference)


_BLANK_LINES = re.compile(r"\n[ \t]*\n")


def split_steps(text: str) -> list[str]:
    """A solution given as one text: its steps are the paragraphs (split at blank lines), a
    PRM800K `# Answer` heading staying with the answer below it (`# Answer\n\n<answer>`)."""
    steps: list[str] = []
    for part in (p.strip() for p in _BLANK_LINES.split(text)):
        if not part:
            continue
        if steps and steps[-1] == ANSWER_MARKER.strip():
            steps[-1] = ANSWER_MARKER + part
        else:
            steps.append(part)
    return steps


def _optional_str(record: dict, key: str) -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key}: must be a string, got {type(value).__name__}")
    return value


def solution_record(record) -> SolutionRecord:
    """Normalise one record; raises ValueError naming the bad field."""
    if not isinstance(record, dict):
        raise ValueError("record: must be an object")
    problem = record.get("problem")
    problem_id = record.get("problem_id")
    problem_external_id = record.get("problem_external_id")
    if problem_id is not None and (not isinstance(problem_id, int) or isinstance(problem_id, bool)):
        raise ValueError("problem_id: must be an integer")
    if problem_external_id is not None and (
        not isinstance(problem_external_id, str) or not problem_external_id.strip()
    ):
        raise ValueError("problem_external_id: must be a non-empty string")
    referenced = problem_id is not None or problem_external_id is not None
    if (problem is not None or not referenced) and (
        not isinstance(problem, str) or not problem.strip()
    ):
        raise ValueError(
            "problem: missing (give problem, problem_id or problem_external_id)"
            if problem is None
            else "problem: must be a non-empty string"
        )
    steps = record.get("steps")
    if isinstance(steps, str):
        steps = split_steps(steps)
        if not steps:
            raise ValueError("steps: empty text")
    if not isinstance(steps, list):
        raise ValueError(
            "steps: missing" if steps is None else "steps: must be a list of strings or a text"
        )
    if not steps:
        raise ValueError("steps: empty")
    for i, step in enumerate(steps):
        if not isinstance(step, str):
            raise ValueError(f"steps[{i}]: must be a string, got {type(step).__name__}")
    is_processbench = "final_answer_correct" in record and "label" in record
    metadata = {}
    if is_processbench:
        correct = record["final_answer_correct"]
        if not isinstance(correct, bool):
            raise ValueError("final_answer_correct: must be true or false")
        label = record["label"]
        if not isinstance(label, int) or isinstance(label, bool) or not -1 <= label < len(steps):
            raise ValueError(f"label: must be -1 or a step index below {len(steps)}, got {label!r}")
        metadata["processbench_label"] = label
    else:
        correct = record.get("is_correct")
        if correct is not None and not isinstance(correct, bool):
            raise ValueError("is_correct: must be true, false or null")
    answer = _optional_str(record, "answer")
    if answer is None:
        answer = _optional_str(record, "final_answer")
    if answer is None:
        answer = answer_in_steps(steps)
    generator = _optional_str(record, "generator") or ""
    extra = record.get("metadata")
    if extra is not None:
        if not isinstance(extra, dict):
            raise ValueError("metadata: must be an object")
        metadata = {**extra, **metadata}
    external_id = record.get("id")
    if external_id is not None and not isinstance(external_id, (str, int)):
        raise ValueError("id: must be a string or a number")
    return SolutionRecord(
        problem=None if problem is None else strip_prompt_suffix(problem),
        steps=steps,
        answer=answer,
        reference_answer=_optional_str(record, "reference_answer"),
        generator=generator,
        external_id="" if external_id is None else str(external_id),
        is_correct=correct,
        source=SOURCE_PROCESSBENCH if is_processbench else SOURCE_IMPORT,
        metadata=metadata,
        problem_id=problem_id,
        problem_external_id=problem_external_id,
    )


@dataclass
class SolutionImportResult:
    records: int = 0
    created: int = 0
    already_present: int = 0
    problems_created: int = 0
    generation: int | None = None

    def summary(self) -> str:
        if self.records == 0:
            return "The file is empty: nothing imported."
        if self.generation is None:
            return f"Nothing new: all {self.already_present} solutions were already imported."
        return (
            f"Imported {self.created} solutions ({self.already_present} already present, "
            f"{self.problems_created} new problems) into generation {self.generation}."
        )


def read_solution_records(path: str, stream=None, progress=None) -> list[SolutionRecord]:
    records, errors, total_bad = [], [], 0
    for count, (where, raw, error) in enumerate(iter_records(path, stream), start=1):
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
        if error is None:
            try:
                record = solution_record(raw)
                record.where = where
                records.append(record)
                continue
            except ValueError as exc:
                error = str(exc)
        total_bad += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(f"{where}: {error}")
    if total_bad:
        raise ApplicationError(
            f"{path}: {total_bad} bad record(s); nothing was imported.", details=errors
        )
    return records


PROGRESS_EVERY = 1000


def _resolve_problem_references(path: str, project, records: list[SolutionRecord]) -> None:
    """Fill in `problem` (the text) of records that refer to a problem by id or external id;
    ApplicationError naming each record whose reference matches no problem of the project."""
    referring = [r for r in records if r.problem is None]
    if not referring:
        return
    ids = {r.problem_id for r in referring if r.problem_id is not None}
    external = {r.problem_external_id for r in referring if r.problem_id is None}
    by_id = dict(Problem.objects.filter(project=project, pk__in=ids).values_list("pk", "text"))
    by_external = dict(
        Problem.objects.filter(project=project, external_id__in=external).values_list(
            "external_id", "text"
        )
    )
    errors, total_bad = [], 0
    for record in referring:
        if record.problem_id is not None:
            text, field_name = by_id.get(record.problem_id), "problem_id"
            value = record.problem_id
        else:
            text, field_name = by_external.get(record.problem_external_id), "problem_external_id"
            value = record.problem_external_id
        if text is None:
            total_bad += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(f"{record.where}: {field_name}: no problem {value!r} in this project")
            continue
        record.problem = text
    if total_bad:
        raise ApplicationError(
            f"{path}: {total_bad} bad record(s); nothing was imported.", details=errors
        )


def solutions_import(
    *,
    path: str,
    project_name: str,
    generation: int | None = None,
    stream=None,
    progress=None,
) -> SolutionImportResult:
    """Import candidate solutions into a generation (a new one unless `generation` is given).
    `progress(records read)` is called now and then while the file is read."""
    if generation is not None and generation < -1:
        raise ApplicationError(f"--generation must be -1 or more, got {generation}")
    records = read_solution_records(path, stream, progress)
    result = SolutionImportResult(records=len(records))
    if not records:
        return result
    with transaction.atomic():
        project = project_get_or_create(project_name)
        _resolve_problem_references(path, project, records)
        problems = {p.text_hash: p for p in Problem.objects.filter(project=project)}
        new_problems = {}
        for record in records:
            digest = sha256(record.problem)
            if digest not in problems and digest not in new_problems:
                new_problems[digest] = Problem(
                    project=project,
                    text=record.problem,
                    text_hash=digest,
                    reference_answer=record.reference_answer,
                )
        Problem.objects.bulk_create(new_problems.values(), batch_size=2000)
        problems.update(new_problems)
        result.problems_created = len(new_problems)

        existing = {
            (s.problem_id, s.steps_hash): s
            for s in Solution.objects.filter(project=project).only("id", "problem_id", "steps_hash")
        }
        new_solutions, ordered = {}, []
        for record in records:
            problem = problems[sha256(record.problem)]
            key = (problem.pk, steps_hash(record.steps))
            solution = existing.get(key) or new_solutions.get(key)
            if solution is None:
                solution = Solution(
                    project=project,
                    problem=problem,
                    steps=record.steps,
                    steps_hash=key[1],
                    final_answer=record.answer,
                    generator=record.generator,
                    source=record.source,
                    external_id=record.external_id,
                    is_correct=record.is_correct,
                    metadata=record.metadata,
                )
                new_solutions[key] = solution
            else:
                result.already_present += 1
            ordered.append(solution)
        Solution.objects.bulk_create(new_solutions.values(), batch_size=2000)
        result.created = len(new_solutions)

        if generation is None and not new_solutions:
            return result  # nothing new: no empty generation is made
        if generation is None:
            top = Generation.objects.filter(project=project).aggregate(top=Max("number"))["top"]
            number = max(0, (top if top is not None else -1) + 1)
            target = Generation.objects.create(project=project, number=number, strategy="imported")
        else:
            target, _ = Generation.objects.get_or_create(
                project=project, number=generation, defaults={"strategy": "imported"}
            )
        result.generation = target.number

        members = set(
            GenerationItem.objects.filter(generation=target).values_list("solution_id", flat=True)
        )
        rank = (
            GenerationItem.objects.filter(generation=target).aggregate(top=Max("rank"))["top"] or 0
        )
        items = []
        for solution in ordered:
            if solution.pk in members:
                continue
            members.add(solution.pk)
            rank += 1
            items.append(GenerationItem(generation=target, solution=solution, rank=rank))
        GenerationItem.objects.bulk_create(items, batch_size=2000)
        generation_items_recount(project)
        if new_solutions:  # grade the new candidates on a worker (best effort: the beat
            # watchdog grades whatever is left when the broker is down)
            transaction.on_commit(lambda: _grade_later(project.pk))
    return result


def _grade_later(project_id: int) -> None:
    from active_learning.grading import grading_enqueue

    grading_enqueue(project_id)
