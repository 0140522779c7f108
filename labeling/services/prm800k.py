"""PRM800K import.

Import is all-or-nothing per file: every line is validated; the first bad line and any after it
are reported as `FILE:LINE: field: what is wrong` and the transaction is rolled back. Writes go
in chunks inside one transaction, so memory stays bounded for files of any size.

Import checks, line by line, that re-serialising the stored fields (the export's
`labeling_record`) reproduces the source bytes, and keeps the source line only for the rare
record whose layout it would not reproduce, so export of imported data is byte-identical.
"""

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Max

from labeling import prm800k
from labeling.bulk_insert import insert_rows
from labeling.errors import ApplicationError
from labeling.models import (
    Generation,
    GenerationItem,
    Labeling,
    LabelingStatus,
    Problem,
    Project,
    Role,
    Solution,
    StepRating,
    User,
)
from labeling.services.prm800k_export import labeling_record
from labeling.services.quality import generation_items_recount

logger = logging.getLogger(__name__)


CHUNK_SIZE = 1000  # records written per round trip batch; bounds memory on large files
MAX_REPORTED_ERRORS = 50
SOURCE_PHASE2 = "prm800k"
SOURCE_PHASE1 = "prm800k-phase1"

Progress = Callable[[int], None]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def steps_hash(steps: list[str]) -> str:
    return sha256(json.dumps(steps))


@dataclass
class ImportResult:
    lines: int = 0
    created: int = 0
    already_present: int = 0
    problems_created: int = 0
    solutions_created: int = 0
    labelers_created: int = 0
    kept_verbatim: int = 0
    generations: set = field(default_factory=set)

    def summary(self) -> str:
        if self.lines == 0:
            return "The file is empty: nothing imported."
        text = (
            f"Imported {self.created} labelings ({self.already_present} already present), "
            f"{self.problems_created} new problems, {self.solutions_created} new solutions, "
            f"{self.labelers_created} new labelers."
        )
        if self.created == 0:
            text = f"Nothing new: all {self.already_present} labelings were already imported."
        return text


def iter_lines(stream: IO[bytes], name: str) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text without line ending, decode error) for each non-blank line."""
    for number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            continue
        text = text.rstrip("\r\n")
        if text.strip():
            yield number, text, None


def project_get_or_create(name: str) -> Project:
    name = name.strip()
    if not name:
        raise ApplicationError("A project name is needed.")
    project, _ = Project.objects.get_or_create(name=name)
    return project


def prm800k_import(
    *, stream: IO[bytes], name: str, project_name: str, progress: Progress | None = None
) -> ImportResult:
    """Import PRM800K JSON Lines from a binary `stream` (`name` is used in error messages)."""
    result = ImportResult()
    errors: list[str] = []
    error_count = 0
    with transaction.atomic():
        project = project_get_or_create(project_name)
        writer = _Writer(project, result)
        batch: list[tuple[str, dict]] = []
        for number, line, decode_error in iter_lines(stream, name):
            result.lines += 1
            problem = decode_error
            record = None
            if problem is None:
                try:
                    record = json.loads(line)
                    prm800k.validate_record(record)
                except json.JSONDecodeError as exc:
                    problem = f"invalid JSON: {exc.msg} at column {exc.colno}"
                except prm800k.RecordError as exc:
                    problem = str(exc)
            if problem is not None:
                error_count += 1
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append(f"{name}:{number}: {problem}")
                continue
            if error_count:
                continue  # keep validating to report more errors, but write nothing
            batch.append((line, record))
            if len(batch) >= CHUNK_SIZE:
                writer.write(batch)
                batch = []
                if progress:
                    progress(result.lines)
        if error_count:
            more = error_count - len(errors)
            if more > 0:
                errors.append(f"... and {more} more bad lines")
            # Raising inside atomic() rolls back everything this file wrote.
            raise ApplicationError(
                f"{name}: {error_count} bad line(s); nothing was imported.", details=errors
            )
        if batch:
            writer.write(batch)
        if result.created:
            if connection.vendor == "postgresql":
                # Mid-transaction the planner has no statistics for the rows just written and
                # runs the recount's subquery as a scan per item (89 s of a 100k import);
                # ANALYZE here sees this transaction's rows (docs/benchmarks.md).
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE labeling_labeling, labeling_generationitem")
            generation_items_recount(project)
        if progress:
            progress(result.lines)
    logger.info("PRM800K import of %s into %s: %s", name, project.name, result.summary())
    return result


class _Writer:
    """Writes validated records chunk by chunk, with caches of what already exists."""

    def __init__(self, project: Project, result: ImportResult):
        self.project = project
        self.result = result
        self.problems: dict[str, Problem] = {
            p.text_hash: p for p in Problem.objects.filter(project=project)
        }
        self.solutions: dict[tuple[int, str], Solution] = {}
        self.users: dict[str, User] = {}
        self.generations: dict[int, Generation] = {}
        self.generation_members: dict[int, set[int]] = {}
        self.generation_next_rank: dict[int, int] = {}
        self.seen_hashes: set[str] = set()

    def write(self, batch: list[tuple[str, dict]]) -> None:
        hashes = [sha256(line) for line, _ in batch]
        existing = set(
            Labeling.objects.filter(project=self.project, source_hash__in=hashes).values_list(
                "source_hash", flat=True
            )
        )
        fresh = []
        for digest, (line, record) in zip(hashes, batch, strict=True):
            if digest in existing or digest in self.seen_hashes:
                self.result.already_present += 1
                continue
            self.seen_hashes.add(digest)
            fresh.append((digest, line, record))
        if not fresh:
            return
        self._ensure_users([record["labeler"] for _, _, record in fresh])
        problems = [self._problem_for(record["question"]) for _, _, record in fresh]
        self._save_new_problems(problems)
        solutions = self._solutions_for(problems, [record for _, _, record in fresh])
        self._save_new_solutions(solutions)

        labelings = []
        items = []
        for (digest, line, record), solution in zip(fresh, solutions, strict=True):
            labeling = self._labeling_for(digest, line, record, solution)
            labelings.append(labeling)
            if labeling.generation_id is not None:
                item = self._generation_item(labeling.generation, solution, labeling.verifier_score)
                if item is not None:
                    items.append(item)
        Labeling.objects.bulk_create(labelings, batch_size=CHUNK_SIZE)
        GenerationItem.objects.bulk_create(items, batch_size=CHUNK_SIZE)
        insert_rows(
            StepRating,
            ("labeling_id", "step_index", "completion_index", "rating", "flagged"),
            _rating_rows(labelings),
        )
        self.result.created += len(labelings)
        # Keep the cache light: forget the (large) steps lists; they are re-attached from the
        # record when the solution comes up again.
        for solution in solutions:
            solution.__dict__.pop("steps", None)

    def _ensure_users(self, labelers: Iterable[str]) -> None:
        wanted = {value for value in labelers if value not in self.users}
        if not wanted:
            return
        for user in User.objects.filter(labeler_uuid__in=wanted):
            self.users[str(user.labeler_uuid)] = user
            # Records may spell the UUID in another case; key by the record's spelling too.
        for value in wanted:
            canonical = str(prm800k_uuid(value))
            if canonical in self.users:
                self.users[value] = self.users[canonical]
        missing = sorted(value for value in wanted if value not in self.users)
        if not missing:
            return
        unusable = make_password(None)
        new_users = [
            User(
                username=f"prm800k-{prm800k_uuid(value)}",
                labeler_uuid=prm800k_uuid(value),
                role=Role.ANNOTATOR,
                is_active=False,  # an imported identity, not a login
                password=unusable,
            )
            for value in missing
        ]
        User.objects.bulk_create(new_users)
        for user in User.objects.filter(labeler_uuid__in=[u.labeler_uuid for u in new_users]):
            self.users[str(user.labeler_uuid)] = user
        for value in missing:
            self.users[value] = self.users[str(prm800k_uuid(value))]
        self.result.labelers_created += len(new_users)

    def _problem_for(self, question: dict) -> Problem:
        text = question["problem"]
        digest = sha256(text)
        problem = self.problems.get(digest)
        if problem is None:
            problem = Problem(
                project=self.project,
                text=text,
                text_hash=digest,
                reference_solution=question.get("ground_truth_solution") or "",
                reference_answer=question.get("ground_truth_answer"),
            )
            self.problems[digest] = problem
        return problem

    def _save_new_problems(self, problems: list[Problem]) -> None:
        new = list({id(p): p for p in problems if p.pk is None}.values())
        if new:
            Problem.objects.bulk_create(new, batch_size=CHUNK_SIZE)
            self.result.problems_created += len(new)

    def _solutions_for(self, problems: list[Problem], records: list[dict]) -> list[Solution]:
        wanted = []
        for problem, record in zip(problems, records, strict=True):
            question = record["question"]
            if "pre_generated_steps" in question:
                steps = question["pre_generated_steps"]
                final_answer = question.get("pre_generated_answer")
                source = SOURCE_PHASE2
            else:
                # Phase 1 has no pre-generated solution: the labeled trajectory is the solution.
                steps = prm800k.trajectory(record["label"]["steps"])
                final_answer = prm800k.answer_of(steps)
                source = SOURCE_PHASE1
            wanted.append(((problem.pk, steps_hash(steps)), steps, final_answer, source))
        unknown = {key for key, *_ in wanted if key not in self.solutions}
        if unknown:
            # One query per chunk for solutions stored by earlier imports. Their steps equal the
            # record's (same hash), so the large steps column is not read back.
            stored = Solution.objects.filter(
                project=self.project, steps_hash__in={digest for _, digest in unknown}
            ).defer("steps")
            for solution in stored:
                key = (solution.problem_id, solution.steps_hash)
                if key in unknown:
                    self.solutions[key] = solution
        result = []
        for (key, steps, final_answer, source), problem in zip(wanted, problems, strict=True):
            solution = self.solutions.get(key)
            if solution is None:
                solution = Solution(
                    project=self.project,
                    problem=problem,
                    steps=steps,
                    steps_hash=key[1],
                    final_answer=final_answer,
                    source=source,
                )
                self.solutions[key] = solution
            elif "steps" in solution.get_deferred_fields():
                solution.steps = steps
                solution.problem = problem
            result.append(solution)
        return result

    def _save_new_solutions(self, solutions: list[Solution]) -> None:
        new = list({id(s): s for s in solutions if s.pk is None}.values())
        if new:
            Solution.objects.bulk_create(new, batch_size=CHUNK_SIZE)
            self.result.solutions_created += len(new)

    def _generation(self, number: int) -> Generation:
        generation = self.generations.get(number)
        if generation is None:
            generation, _ = Generation.objects.get_or_create(
                project=self.project, number=number, defaults={"strategy": "imported"}
            )
            self.generations[number] = generation
            self.generation_members[number] = set(
                GenerationItem.objects.filter(generation=generation).values_list(
                    "solution_id", flat=True
                )
            )
            top = GenerationItem.objects.filter(generation=generation).aggregate(top=Max("rank"))
            self.generation_next_rank[number] = (top["top"] or 0) + 1
        return generation

    def _generation_item(self, generation, solution, score) -> GenerationItem | None:
        members = self.generation_members[generation.number]
        if solution.pk in members:
            return None
        members.add(solution.pk)
        rank = self.generation_next_rank[generation.number]
        self.generation_next_rank[generation.number] = rank + 1
        return GenerationItem(generation=generation, solution=solution, rank=rank, score=score)

    def _labeling_for(self, digest: str, line: str, record: dict, solution: Solution) -> Labeling:
        question = record["question"]
        label = record["label"]
        total_time = label["total_time"]
        number = record["generation"]
        labeling = Labeling(
            project=self.project,
            solution=solution,
            labeler=self.users[record["labeler"]],
            generation=self._generation(number) if number is not None else None,
            status=LabelingStatus.SUBMITTED,
            finish_reason=label["finish_reason"],
            total_time_ms=None if total_time is None else round(total_time),
            submitted_at=prm800k.parse_timestamp(record["timestamp"]),
            is_quality_control=record["is_quality_control_question"],
            is_screening=record["is_initial_screening_question"],
            steps=label["steps"],
            verifier_score=_as_float(question.get("pre_generated_verifier_score")),
            question_keys=None if list(question) == list(prm800k.QUESTION_KEYS) else list(question),
            source_hash=digest,
        )
        if prm800k.dumps_record(labeling_record(labeling)) != line:
            labeling.source_line = line
            self.result.kept_verbatim += 1
        return labeling


def prm800k_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


def _as_float(value):
    return None if value is None else float(value)


def _rating_rows(labelings: list[Labeling]) -> Iterator[tuple]:
    for labeling in labelings:
        for row in prm800k.iter_ratings(labeling.steps):
            yield (labeling.pk, row.step_index, row.completion_index, row.rating, row.flagged)
