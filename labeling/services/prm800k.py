"""PRM800K import.

Import is all-or-nothing per file: every line is validated; the first bad line and any after it
are reported as `FILE:LINE: field: what is wrong` and the transaction is rolled back. Writes go
in chunks inside one transaction.

Memory: the import keeps ids and digests only (per line, problem, solution, labeler and
generation), never model instances or texts; on PostgreSQL the rows go in with COPY.

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
from labeling.bulk_insert import insert_rows, insert_rows_returning_ids
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
from labeling.services.prm800k_export import record_from_fields
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
        _lock_project_imports(project)
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


def _lock_project_imports(project: Project) -> None:
    """PostgreSQL: one PRM800K import per project at a time (until this transaction ends).

    The writer loads what the project holds once, at the start; a second import of the same
    file waits here and then finds everything present instead of colliding with the first."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_IMPORT_LOCK, project.pk])


_IMPORT_LOCK = 0x50524D  # "PRM": advisory lock class of PRM800K imports


class _Writer:
    """Writes validated records chunk by chunk.

    What it remembers between chunks is ids and digests only (no model instances, no texts):
    the hash of every line seen, and per problem, solution, labeler and generation its id plus
    digests of the stored fields that decide whether a record re-serialises byte for byte. What
    the project held before the import is loaded once here, so no chunk queries for it (an empty
    project loads nothing)."""

    def __init__(self, project: Project, result: ImportResult):
        self.project = project
        self.result = result
        # sha256(text) -> (id, digest of reference_solution, digest of reference_answer)
        # (rows whose hash is not a sha256 made elsewhere can never match a record: skipped)
        self.problems: dict[bytes, tuple[int, bytes, bytes]] = {
            _from_hex(text_hash): (pk, _digest(solution), _digest(answer))
            for pk, text_hash, solution, answer in Problem.objects.filter(project=project)
            .values_list("pk", "text_hash", "reference_solution", "reference_answer")
            .iterator(chunk_size=CHUNK_SIZE)
            if _from_hex(text_hash) is not None
        }
        # problem id + sha256(steps) -> (id, digest of final_answer)
        self.solutions: dict[bytes, tuple[int, bytes]] = {
            _solution_key(problem_id, _from_hex(digest)): (pk, _digest(answer))
            for pk, problem_id, digest, answer in Solution.objects.filter(project=project)
            .values_list("pk", "problem_id", "steps_hash", "final_answer")
            .iterator(chunk_size=CHUNK_SIZE)
            if _from_hex(digest) is not None
        }
        # sha256 of every source line stored in the project or seen in this file
        self.seen: set[bytes] = {
            _from_hex(digest)
            for digest in Labeling.objects.filter(project=project, source_hash__isnull=False)
            .values_list("source_hash", flat=True)
            .iterator(chunk_size=CHUNK_SIZE)
            if _from_hex(digest) is not None
        }
        self.users: dict[str, tuple[int, str]] = {}  # record's spelling -> (id, canonical UUID)
        self.generations: dict[int, int] = {}  # number -> id
        self.generation_members: dict[int, set[int]] = {}  # number -> solution ids
        self.generation_next_rank: dict[int, int] = {}

    def write(self, batch: list[tuple[str, dict]]) -> None:
        fresh = []
        for line, record in batch:
            digest = hashlib.sha256(line.encode("utf-8")).digest()
            if digest in self.seen:
                self.result.already_present += 1
                continue
            self.seen.add(digest)
            fresh.append((digest, line, record))
        if not fresh:
            return
        self._ensure_users([record["labeler"] for _, _, record in fresh])
        stored = [_StoredFields.of(record) for _, _, record in fresh]
        self._save_new_problems(stored)
        solution_keys = self._save_new_solutions(stored)

        labeling_rows = []
        item_rows = []
        for (digest, line, record), fields, key in zip(fresh, stored, solution_keys, strict=True):
            solution_id = self.solutions[key][0]
            row = self._labeling_row(digest, line, record, fields, key)
            labeling_rows.append(row)
            number = record["generation"]
            if number is not None:
                item = self._generation_item(number, solution_id, row[_VERIFIER_SCORE])
                if item is not None:
                    item_rows.append(item)
        ids = insert_rows_returning_ids(Labeling, _LABELING_FIELDS, labeling_rows)
        insert_rows(GenerationItem, _ITEM_FIELDS, item_rows)
        insert_rows(
            StepRating,
            ("labeling_id", "step_index", "completion_index", "rating", "flagged"),
            _rating_rows(ids, labeling_rows),
        )
        self.result.created += len(labeling_rows)

    def _ensure_users(self, labelers: Iterable[str]) -> None:
        wanted = {value for value in labelers if value not in self.users}
        if not wanted:
            return
        canonical = {value: prm800k_uuid(value) for value in wanted}
        found = dict(
            User.objects.filter(labeler_uuid__in=set(canonical.values())).values_list(
                "labeler_uuid", "pk"
            )
        )
        missing = sorted({u for u in canonical.values() if u not in found}, key=str)
        if missing:
            unusable = make_password(None)
            User.objects.bulk_create(
                User(
                    username=f"prm800k-{value}",
                    labeler_uuid=value,
                    role=Role.ANNOTATOR,
                    is_active=False,  # an imported identity, not a login
                    password=unusable,
                )
                for value in missing
            )
            found.update(
                User.objects.filter(labeler_uuid__in=missing).values_list("labeler_uuid", "pk")
            )
            self.result.labelers_created += len(missing)
        # Records may spell the UUID in another case; key by the record's spelling.
        for value, uuid_value in canonical.items():
            self.users[value] = (found[uuid_value], str(uuid_value))

    def _save_new_problems(self, stored: list["_StoredFields"]) -> None:
        new: dict[bytes, _StoredFields] = {}
        for fields in stored:
            if fields.problem_key not in self.problems and fields.problem_key not in new:
                new[fields.problem_key] = fields  # the first record of a problem defines it
        if not new:
            return
        ids = insert_rows_returning_ids(
            Problem,
            ("project_id", "text", "text_hash", "reference_solution", "reference_answer"),
            [
                (
                    self.project.pk,
                    f.problem_text,
                    key.hex(),
                    f.reference_solution,
                    f.reference_answer,
                )
                for key, f in new.items()
            ],
        )
        for (key, f), pk in zip(new.items(), ids, strict=True):
            self.problems[key] = (pk, _digest(f.reference_solution), _digest(f.reference_answer))
        self.result.problems_created += len(new)

    def _save_new_solutions(self, stored: list["_StoredFields"]) -> list[bytes]:
        keys = []
        new: dict[bytes, _StoredFields] = {}
        for fields in stored:
            key = _solution_key(self.problems[fields.problem_key][0], fields.steps_digest)
            keys.append(key)
            if key not in self.solutions and key not in new:
                new[key] = fields
        if new:
            ids = insert_rows_returning_ids(
                Solution,
                ("project_id", "problem_id", "steps", "steps_hash", "final_answer", "source"),
                [
                    (
                        self.project.pk,
                        self.problems[f.problem_key][0],
                        f.solution_steps,
                        f.steps_digest.hex(),
                        f.final_answer,
                        f.source,
                    )
                    for f in new.values()
                ],
            )
            for (key, f), pk in zip(new.items(), ids, strict=True):
                self.solutions[key] = (pk, _digest(f.final_answer))
            self.result.solutions_created += len(new)
        return keys

    def _generation(self, number: int) -> int:
        generation_id = self.generations.get(number)
        if generation_id is None:
            generation, _ = Generation.objects.get_or_create(
                project=self.project, number=number, defaults={"strategy": "imported"}
            )
            generation_id = self.generations[number] = generation.pk
            items = GenerationItem.objects.filter(generation=generation)
            self.generation_members[number] = set(items.values_list("solution_id", flat=True))
            top = items.aggregate(top=Max("rank"))["top"]
            self.generation_next_rank[number] = (top or 0) + 1
        return generation_id

    def _generation_item(self, number: int, solution_id: int, score) -> tuple | None:
        members = self.generation_members[number]
        if solution_id in members:
            return None
        members.add(solution_id)
        rank = self.generation_next_rank[number]
        self.generation_next_rank[number] = rank + 1
        # the same columns bulk_create would write: counts are set by the recount at the end
        return (self.generations[number], solution_id, rank, score, 0, True)

    def _labeling_row(
        self, digest: bytes, line: str, record: dict, fields: "_StoredFields", key: bytes
    ) -> tuple:
        question = record["question"]
        label = record["label"]
        total_time = label["total_time"]
        total_time_ms = None if total_time is None else round(total_time)
        submitted_at = prm800k.parse_timestamp(record["timestamp"])
        verifier_score = _as_float(question.get("pre_generated_verifier_score"))
        question_keys = None if list(question) == list(prm800k.QUESTION_KEYS) else list(question)
        user_id, labeler_uuid = self.users[record["labeler"]]
        number = record["generation"]
        generation_id = self._generation(number) if number is not None else None
        # Export re-serialises what is stored. The problem and solution rows are shared: where a
        # field this record carries differs from the stored one (an earlier record defined the
        # row), or the layout is unusual, keep the line itself.
        reproduces = self._stored_fields_match(fields, key, question_keys)
        if reproduces:
            rebuilt = record_from_fields(
                labeler_uuid=labeler_uuid,
                submitted_at=submitted_at,
                generation=number,
                is_quality_control=record["is_quality_control_question"],
                is_screening=record["is_initial_screening_question"],
                problem_text=fields.problem_text,
                reference_solution=fields.reference_solution,
                reference_answer=fields.reference_answer,
                solution_steps=fields.solution_steps,
                final_answer=fields.final_answer,
                verifier_score=verifier_score,
                question_keys=question_keys,
                steps=label["steps"],
                total_time_ms=total_time_ms,
                finish_reason=label["finish_reason"],
            )
            reproduces = prm800k.dumps_record(rebuilt) == line
        source_line = None
        if not reproduces:
            source_line = line
            self.result.kept_verbatim += 1
        return (
            self.project.pk,
            self.solutions[key][0],
            user_id,
            generation_id,
            LabelingStatus.SUBMITTED.value,
            label["finish_reason"],
            total_time_ms,
            submitted_at,
            record["is_quality_control_question"],
            record["is_initial_screening_question"],
            label["steps"],
            verifier_score,
            question_keys,
            digest.hex(),
            source_line,
        )

    def _stored_fields_match(
        self, fields: "_StoredFields", key: bytes, question_keys: list[str] | None
    ) -> bool:
        keys = prm800k.QUESTION_KEYS if question_keys is None else question_keys
        _, solution_digest, answer_digest = self.problems[fields.problem_key]
        differs = (
            ("ground_truth_solution", solution_digest, fields.reference_solution),
            ("ground_truth_answer", answer_digest, fields.reference_answer),
            ("pre_generated_answer", self.solutions[key][1], fields.final_answer),
        )
        return not any(name in keys and stored != _digest(value) for name, stored, value in differs)


_LABELING_FIELDS = (
    "project_id",
    "solution_id",
    "labeler_id",
    "generation_id",
    "status",
    "finish_reason",
    "total_time_ms",
    "submitted_at",
    "is_quality_control",
    "is_screening",
    "steps",
    "verifier_score",
    "question_keys",
    "source_hash",
    "source_line",
)
_VERIFIER_SCORE = _LABELING_FIELDS.index("verifier_score")
_STEPS = _LABELING_FIELDS.index("steps")
_ITEM_FIELDS = ("generation_id", "solution_id", "rank", "score", "submitted_count", "is_open")


@dataclass(slots=True)
class _StoredFields:
    """What a record's problem and solution rows hold when this record defines them."""

    problem_key: bytes  # sha256 of the problem text (Problem.text_hash)
    problem_text: str
    reference_solution: str
    reference_answer: str | None
    solution_steps: list[str]
    steps_digest: bytes  # sha256 of json.dumps(steps) (Solution.steps_hash)
    final_answer: str | None
    source: str

    @classmethod
    def of(cls, record: dict) -> "_StoredFields":
        question = record["question"]
        text = question["problem"]
        if "pre_generated_steps" in question:
            steps = question["pre_generated_steps"]
            final_answer = question.get("pre_generated_answer")
            source = SOURCE_PHASE2
        else:
            # Phase 1 has no pre-generated solution: the labeled trajectory is the solution.
            steps = prm800k.trajectory(record["label"]["steps"])
            final_answer = prm800k.answer_of(steps)
            source = SOURCE_PHASE1
        return cls(
            problem_key=hashlib.sha256(text.encode("utf-8")).digest(),
            problem_text=text,
            reference_solution=question.get("ground_truth_solution") or "",
            reference_answer=question.get("ground_truth_answer"),
            solution_steps=steps,
            steps_digest=hashlib.sha256(json.dumps(steps).encode("utf-8")).digest(),
            final_answer=final_answer,
            source=source,
        )


def _solution_key(problem_id: int, steps_digest: bytes) -> bytes:
    return problem_id.to_bytes(8, "big") + steps_digest


def _from_hex(value: str) -> bytes | None:
    """The 32 bytes of a sha256 hex digest; None for anything else."""
    if len(value) != 64:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _digest(value) -> bytes:
    """A short digest of a stored field value, to tell whether a record's value equals it."""
    return hashlib.blake2b(json.dumps(value).encode("utf-8"), digest_size=16).digest()


def prm800k_uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


def _as_float(value):
    return None if value is None else float(value)


def _rating_rows(ids: list[int], labeling_rows: list[tuple]) -> Iterator[tuple]:
    for labeling_id, row in zip(ids, labeling_rows, strict=True):
        for rating in prm800k.iter_ratings(row[_STEPS]):
            yield (
                labeling_id,
                rating.step_index,
                rating.completion_index,
                rating.rating,
                rating.flagged,
            )
