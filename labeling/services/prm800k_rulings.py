"""The `adjudication` extension field on import (docs/formats.md, "Extension field:
adjudication"): a line that carries it brings a lead's ruling on its solution's first error.

The import turns the key into the importing project's ruling (`Adjudication`, no lead named,
the note says which file) and stores the line without it; the export writes the key again
from the ruling, so an exported file imports and exports byte for byte, and training uses the
ruling, as it does for one made here. Nothing is dropped and nothing is attached wrongly: the
whole file is refused, naming the field, when

- the key is not `{"first_error": N}` with N a JSON integer from -1 to the last step, or is
  not written as the export writes it (the record's last key, `, "adjudication": {...}}`);
- lines of one solution disagree: different rulings, or some lines with the key and some
  without (the export writes the key on every line of an adjudicated solution);
- the project already has another ruling on that solution (a ruling is changed by a lead,
  on the adjudication page, not by an import).
"""

import json

from labeling.errors import ApplicationError
from labeling.models import Adjudication, Project
from labeling.services.prm800k_export import ADJUDICATION_KEY
from labeling.services.prm800k_fields import StoredFields


def split_ruling(line: str, record: dict) -> tuple[str, dict, int | None]:
    """`(line, record, first_error)`: a line with the extension key as the line and record
    without it (the bytes before `, "adjudication": ...` plus the closing brace) and its
    ruling; a line without the key unchanged, with None. ValueError naming the field for a
    key that is malformed, out of range for the solution's steps, or not where the export
    writes it."""
    if ADJUDICATION_KEY not in record:
        return line, record, None
    value = record[ADJUDICATION_KEY]
    if not (
        isinstance(value, dict)
        and list(value) == ["first_error"]
        and type(value["first_error"]) is int
    ):
        raise ValueError(
            'adjudication: expected {"first_error": N} with N a JSON integer, '
            f"got {json.dumps(value)[:80]}"
        )
    bare = {key: item for key, item in record.items() if key != ADJUDICATION_KEY}
    first_error = value["first_error"]
    steps = len(StoredFields.of(bare).solution_steps)
    if not -1 <= first_error < steps:
        raise ValueError(
            f"adjudication: first_error must be -1 (no error) or a step from 0 to "
            f"{steps - 1}, got {first_error}"
        )
    suffix = ", " + json.dumps({ADJUDICATION_KEY: value})[1:]
    if list(record)[-1] != ADJUDICATION_KEY or not line.endswith(suffix):
        raise ValueError(f'adjudication: must end the line as the export writes it ("...{suffix}")')
    return line[: -len(suffix)] + "}", bare, first_error


class FileRulings:
    """The rulings one import brings, checked line by line against each other and against the
    project's, then stored (`save`). Memory: one small entry per solution of the file."""

    def __init__(self, project: Project, file_name: str):
        self.project = project
        self.file_name = file_name
        self.existing = dict(
            Adjudication.objects.filter(project=project).values_list("solution_id", "first_error")
        )
        self.seen: dict[int, tuple[int | None, str]] = {}  # solution id: (ruling, where)

    def see(self, solution_id: int, first_error: int | None, where: str) -> None:
        """Note the ruling a line brings for its solution (None: the line has no key).
        ApplicationError naming `where` and the field when it contradicts an earlier line of
        the file or the project's ruling."""
        earlier = self.seen.get(solution_id)
        if earlier is None:
            self.seen[solution_id] = (first_error, where)
        elif earlier[0] != first_error:
            raise ApplicationError(
                f"{where}: adjudication: {_words(first_error)}, but {earlier[1]} (the same "
                f"solution) has {_words(earlier[0])}"
            )
        stored = self.existing.get(solution_id)
        if first_error is not None and stored is not None and stored != first_error:
            raise ApplicationError(
                f"{where}: adjudication: first_error {first_error}, but the project's ruling "
                f"on this solution is {stored} (a lead changes it on the adjudication page)"
            )

    def save(self) -> int:
        """Store the rulings the project did not have; returns how many."""
        new = [
            Adjudication(
                project=self.project,
                solution_id=solution_id,
                first_error=first_error,
                note=f"imported from {self.file_name}"[:2000],
            )
            for solution_id, (first_error, _) in self.seen.items()
            if first_error is not None and solution_id not in self.existing
        ]
        Adjudication.objects.bulk_create(new)
        self.existing.update({a.solution_id: a.first_error for a in new})
        return len(new)


def _words(first_error: int | None) -> str:
    return "no adjudication" if first_error is None else f"first_error {first_error}"
