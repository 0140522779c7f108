"""The `adjudication` extension field on import (docs/formats.md): a well-formed key becomes
the project's ruling and the line round-trips byte for byte; a key that would attach a
wrong ruling refuses the whole file naming the field, and nothing is stored."""

import json

import pytest

from labeling.errors import ApplicationError
from labeling.models import Adjudication, Labeling, Project, Solution
from tests.labeling.services.test_prm800k_import_export import export_text, import_lines

pytestmark = pytest.mark.django_db


def with_key(line: str, value) -> str:
    """A release line with the extension key written as the export writes it."""
    return line[:-1] + ", " + json.dumps({"adjudication": value})[1:]


def phase2(sample_lines) -> list[str]:
    """Two release lines of different phase-2 solutions."""
    lines = [x for x in sample_lines if json.loads(x)["generation"] is not None]
    return lines[:2]


def test_a_line_with_the_key_imports_as_a_ruling_and_exports_byte_exact(sample_lines):
    """Catches the key kept in a stored copy of the line instead of becoming the ruling
    (training would ignore it) and a line that does not round-trip."""
    lines = [with_key(phase2(sample_lines)[0], {"first_error": -1}), phase2(sample_lines)[1]]
    import_lines(lines)
    [ruling] = Adjudication.objects.all()
    assert ruling.first_error == -1
    assert not Labeling.objects.exclude(source_line=None).exists()
    assert export_text() == "".join(line + "\n" for line in lines)


@pytest.mark.parametrize(
    "value, words",
    [
        ({"first_error": "2"}, "JSON integer"),
        ({"first_error": 2.0}, "JSON integer"),
        ({"first_error": True}, "JSON integer"),
        ({"first_error": 2, "by": "x"}, "JSON integer"),
        ([2], "JSON integer"),
        ({"first_error": -2}, "from 0 to"),
        ({"first_error": 10_000}, "from 0 to"),
    ],
    ids=repr,
)
def test_a_malformed_key_refuses_the_file_naming_the_field(sample_lines, value, words):
    """Catches a ruling coerced from "2", 2.0 or true, a step outside the solution, and a
    malformed key kept silently in the line."""
    lines = [phase2(sample_lines)[1], with_key(phase2(sample_lines)[0], value)]
    with pytest.raises(ApplicationError) as caught:
        import_lines(lines)
    text = f"{caught.value} {caught.value.details}"
    assert "f.jsonl:2: adjudication:" in text and words in text
    assert not Labeling.objects.exists() and not Adjudication.objects.exists()


def test_a_key_not_where_the_export_writes_it_is_refused(sample_lines):
    """A key in the middle of the record cannot round-trip byte for byte: refused."""
    record = json.loads(phase2(sample_lines)[0])
    line = json.dumps({"adjudication": {"first_error": 0}, **record})
    with pytest.raises(ApplicationError) as caught:
        import_lines([line])
    assert "adjudication: must end the line" in str(caught.value.details)
    assert not Adjudication.objects.exists()


def _two_lines_of_one_solution(sample_lines) -> tuple[str, str]:
    line = phase2(sample_lines)[0]
    other = json.loads(line)
    other["labeler"] = "00000000-0000-4000-8000-000000000001"
    return line, json.dumps(other)


@pytest.mark.parametrize("second", [{"first_error": 1}, None], ids=["other ruling", "no key"])
def test_lines_of_one_solution_that_disagree_refuse_the_file(sample_lines, second):
    """Two labelings of one solution, one ruling first_error 0 and the other ruling 1 or
    carrying no key: catches a ruling attached from one line that another contradicts (the
    keyless line would gain the key on export)."""
    first, other = _two_lines_of_one_solution(sample_lines)
    lines = [
        with_key(first, {"first_error": 0}),
        other if second is None else with_key(other, second),
    ]
    with pytest.raises(ApplicationError) as caught:
        import_lines(lines)
    assert "f.jsonl:2: adjudication:" in str(caught.value) and "f.jsonl:1" in str(caught.value)
    assert not Labeling.objects.exists() and not Adjudication.objects.exists()


def test_a_key_that_contradicts_the_projects_ruling_refuses_the_file(sample_lines):
    """The project's lead ruled 0; an import saying 1 must not overwrite it, nor be stored
    beside it; one saying 0 is taken."""
    first, other = _two_lines_of_one_solution(sample_lines)
    import_lines([first])
    solution = Solution.objects.get()
    Adjudication.objects.create(project=solution.project, solution=solution, first_error=0)
    with pytest.raises(ApplicationError) as caught:
        import_lines([with_key(other, {"first_error": 1})], name="g.jsonl")
    assert "g.jsonl:1: adjudication:" in str(caught.value)
    assert Labeling.objects.count() == 1
    assert list(Adjudication.objects.values_list("first_error", flat=True)) == [0]
    import_lines([with_key(other, {"first_error": 0})], name="g.jsonl")
    assert Labeling.objects.count() == 2
    assert export_text().splitlines() == [
        with_key(first, {"first_error": 0}),
        with_key(other, {"first_error": 0}),
    ]
    assert Project.objects.get().adjudications.count() == 1
