"""The database side of a PRM800K import: `_Writer` stores validated records chunk by chunk
(problems, solutions, labelers, generations, labelings and their step ratings, with COPY on
PostgreSQL), remembering only ids and digests between chunks, and `ImportResult` counts what it
did. The import itself (reading, validating, the transaction) is labeling/services/prm800k.py.
What a record says each row holds, and the keys rows are matched by, is
labeling/services/prm800k_fields.py.
"""

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db.models import Max

from labeling import prm800k
from labeling.bulk_insert import insert_rows, insert_rows_returning_ids
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
from labeling.services.prm800k_fields import (
    StoredFields,
    field_digest,
    from_hex,
    solution_key,
)
from labeling.services.prm800k_rulings import FileRulings

CHUNK_SIZE = 1000  # rows read per round trip when loading what the project already holds


@dataclass
class ImportResult:
    lines: int = 0
    created: int = 0
    already_present: int = 0
    problems_created: int = 0
    solutions_created: int = 0
    labelers_created: int = 0
    kept_verbatim: int = 0
    adjudications_created: int = 0  # rulings the `adjudication` extension field brought
    generations: set = field(default_factory=set)

    def summary(self) -> str:
        if self.lines == 0:
            return "The file is empty: nothing imported."
        text = (
            f"Imported {self.created} labelings ({self.already_present} already present), "
            f"{self.problems_created} new problems, {self.solutions_created} new solutions, "
            f"{self.labelers_created} new labelers."
        )
        if self.adjudications_created:
            text += f" {self.adjudications_created} adjudicated first errors."
        if self.created == 0:
            text = f"Nothing new: all {self.already_present} labelings were already imported."
        return text


class _Writer:
    """Writes validated records chunk by chunk.

    What it remembers between chunks is ids and digests only (no model instances, no texts):
    the hash of every line seen, and per problem, solution, labeler and generation its id plus
    digests of the stored fields that decide whether a record re-serialises byte for byte. What
    the project held before the import is loaded once here, so no chunk queries for it (an empty
    project loads nothing)."""

    def __init__(self, project: Project, result: ImportResult, rulings: FileRulings):
        self.project = project
        self.result = result
        self.rulings = rulings  # the `adjudication` extension field's rulings
        # sha256(text) -> (id, digest of reference_solution, digest of reference_answer)
        # (rows whose hash is not a sha256 made elsewhere can never match a record: skipped)
        self.problems: dict[bytes, tuple[int, bytes, bytes]] = {
            from_hex(text_hash): (pk, field_digest(solution), field_digest(answer))
            for pk, text_hash, solution, answer in Problem.objects.filter(project=project)
            .values_list("pk", "text_hash", "reference_solution", "reference_answer")
            .iterator(chunk_size=CHUNK_SIZE)
            if from_hex(text_hash) is not None
        }
        # problem id + sha256(steps) -> (id, digest of final_answer)
        self.solutions: dict[bytes, tuple[int, bytes]] = {
            solution_key(problem_id, from_hex(digest)): (pk, field_digest(answer))
            for pk, problem_id, digest, answer in Solution.objects.filter(project=project)
            .values_list("pk", "problem_id", "steps_hash", "final_answer")
            .iterator(chunk_size=CHUNK_SIZE)
            if from_hex(digest) is not None
        }
        # sha256 of every source line stored in the project or seen in this file
        self.seen: set[bytes] = {
            from_hex(digest)
            for digest in Labeling.objects.filter(project=project, source_hash__isnull=False)
            .values_list("source_hash", flat=True)
            .iterator(chunk_size=CHUNK_SIZE)
            if from_hex(digest) is not None
        }
        self.users: dict[str, tuple[int, str]] = {}  # record's spelling -> (id, canonical UUID)
        self.generations: dict[int, int] = {}  # number -> id
        self.generation_members: dict[int, set[int]] = {}  # number -> solution ids
        self.generation_next_rank: dict[int, int] = {}

    def write(self, batch: list[tuple[str, dict, str, tuple]]) -> None:
        """Store `(line, record, source line, (ruling, where))` items: the line and record
        without the extension field, the line as read (its hash finds a line imported
        before), the ruling it brings (None: none) and where it was read."""
        fresh = []
        rulings = []
        for line, record, source, ruling in batch:
            digest = hashlib.sha256(source.encode("utf-8")).digest()
            if digest in self.seen:
                self.result.already_present += 1
                continue
            self.seen.add(digest)
            fresh.append((digest, line, record))
            rulings.append(ruling)
        if not fresh:
            return
        self._ensure_users([record["labeler"] for _, _, record in fresh])
        stored = [StoredFields.of(record) for _, _, record in fresh]
        self._save_new_problems(stored)
        solution_keys = self._save_new_solutions(stored)

        labeling_rows = []
        item_rows = []
        for (digest, line, record), fields, key, ruling in zip(
            fresh, stored, solution_keys, rulings, strict=True
        ):
            solution_id = self.solutions[key][0]
            self.rulings.see(solution_id, *ruling)
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

    def _save_new_problems(self, stored: list[StoredFields]) -> None:
        new: dict[bytes, StoredFields] = {}
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
            self.problems[key] = (
                pk,
                field_digest(f.reference_solution),
                field_digest(f.reference_answer),
            )
        self.result.problems_created += len(new)

    def _save_new_solutions(self, stored: list[StoredFields]) -> list[bytes]:
        keys = []
        new: dict[bytes, StoredFields] = {}
        for fields in stored:
            key = solution_key(self.problems[fields.problem_key][0], fields.steps_digest)
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
                self.solutions[key] = (pk, field_digest(f.final_answer))
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
        self, digest: bytes, line: str, record: dict, fields: StoredFields, key: bytes
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
        self, fields: StoredFields, key: bytes, question_keys: list[str] | None
    ) -> bool:
        keys = prm800k.QUESTION_KEYS if question_keys is None else question_keys
        _, solution_digest, answer_digest = self.problems[fields.problem_key]
        differs = (
            ("ground_truth_solution", solution_digest, fields.reference_solution),
            ("ground_truth_answer", answer_digest, fields.reference_answer),
            ("pre_generated_answer", self.solutions[key][1], fields.final_answer),
        )
        return not any(
            name in keys and stored != field_digest(value) for name, stored, value in differs
        )


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
