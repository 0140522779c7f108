"""The text policy (labeling/text_policy.py) and the record reader that applies it to every
imported record (labeling/record_files.py), without a database."""

import io
import json

import pytest

from labeling.record_files import BOM, iter_json_lines, iter_records, loads
from labeling.services.prm800k import steps_json
from labeling.text_policy import (
    REFUSED_CODE_POINTS,
    ImportLimits,
    TextError,
    check_strings,
    check_text,
    is_blank,
    shown_safely,
    text_problem,
)

LIMITS = ImportLimits()


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "tab\tand\nnew lines\r\n",
        "≥ ∑ π é 中文 \u00a0 \u200b \ufeff",  # any script, nbsp, zero-width space, a BOM inside
        "emoji 😀 (a surrogate pair in JSON, one scalar value here)",
        "\ue000 private use",
        "\\frac{1}{2} \\boxed{3}",
        "",
    ],
)
def test_accepted_text(text):
    assert text_problem(text) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a\ud83db", "contains a lone surrogate (U+D83D): not valid Unicode text (at character 2)"),
        ("\udc00", "contains a lone surrogate (U+DC00): not valid Unicode text (at character 1)"),
        (
            "x\x00",
            "contains the control character U+0000 (NUL): only tab and line breaks are allowed "
            "(at character 2)",
        ),
        ("\x07", "contains the control character U+0007: only tab and line breaks are allowed"),
        ("\x0b", "contains the control character U+000B"),  # vertical tab
        ("\x0c", "contains the control character U+000C"),  # form feed: "\f" of a bad escape
        ("\x08rac", "contains the control character U+0008"),  # "\b" of an unescaped \begin
        ("\x7f", "contains the control character U+007F (DEL)"),
        ("\x85", "contains the control character U+0085"),  # C1: next line
        ("\x9f", "contains the control character U+009F"),
        # bidi controls reorder what follows: "\u202emoc.evil" shows as "live.com" (issue 13)
        (
            "\u202emoc.evil",
            "contains the bidirectional control U+202E (RIGHT-TO-LEFT OVERRIDE): it reorders the "
            "text shown after it (at character 1)",
        ),
        ("ab\u202a", "contains the bidirectional control U+202A (LEFT-TO-RIGHT EMBEDDING)"),
        ("\u202c", "contains the bidirectional control U+202C (POP DIRECTIONAL FORMATTING)"),
        ("\u2066x", "contains the bidirectional control U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("\u2069", "contains the bidirectional control U+2069 (POP DIRECTIONAL ISOLATE)"),
        # noncharacters: accepted by the page and the server before (a tester's own step)
        ("a\uffff", "contains the noncharacter U+FFFF: not meant for text (at character 2)"),
        ("\ufffe", "contains the noncharacter U+FFFE: not meant for text"),
        ("\ufdd0", "contains the noncharacter U+FDD0: not meant for text"),
        ("\ufdef", "contains the noncharacter U+FDEF: not meant for text"),
        ("\U0001fffe", "contains the noncharacter U+1FFFE: not meant for text"),
        ("x\U0010ffff", "contains the noncharacter U+10FFFF: not meant for text"),
    ],
)
def test_refused_text_says_what_and_where(text, problem):
    assert text_problem(text).startswith(problem)


def test_the_refused_list_is_one_constant_the_regex_follows():
    """Catches a refused character that the documented list (what JavaScript mirrors) and the
    check disagree on: every code point in REFUSED_CODE_POINTS is refused, its neighbours not."""
    for first, last in REFUSED_CODE_POINTS:
        for code in (first, last):
            assert text_problem(chr(code)) is not None, hex(code)
        for code in (first - 1, last + 1):
            if 0 <= code <= 0x10FFFF and not any(a <= code <= b for a, b in REFUSED_CODE_POINTS):
                assert text_problem(chr(code)) is None, hex(code)


def test_noncharacters_are_refused_in_every_plane_and_nothing_else_is_new():
    """Catches a noncharacter (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF) accepted in any plane, and a
    character next to them (U+FDCF, U+FDF0, U+FFFD, U+1FFFD) refused by mistake."""
    for plane in range(17):
        for low in (0xFFFE, 0xFFFF):
            assert "noncharacter" in text_problem(chr(plane * 0x10000 + low))
        assert text_problem(chr(plane * 0x10000 + 0xFFFD)) is None
    assert all("noncharacter" in text_problem(chr(c)) for c in range(0xFDD0, 0xFDF0))
    assert text_problem("\ufdcf\ufdf0") is None
    with pytest.raises(TextError, match=r"^steps\[0\]: contains the noncharacter U\+FFFF"):
        check_strings({"steps": ["ok\uffff"]}, 100)


def test_bidi_controls_in_an_imported_record_are_refused_by_path():
    """Catches an import that stores a direction override (the same policy as posted text)."""
    with pytest.raises(TextError, match=r"^steps\[1\]: contains the bidirectional control U\+202E"):
        check_strings({"steps": ["fine", "\u202eevil"]}, 100)


@pytest.mark.parametrize(
    ("text", "blank"),
    [
        ("", True),
        ("   \n\t", True),
        ("\u200b", True),  # zero-width space: passed the old `.strip()` test (issue 13)
        (" \u200c\u200d\ufeff\u00ad\u2060\u200e\u200f ", True),  # joiners, BOM, soft hyphen
        ("\u200bx", False),
        ("π", False),
    ],
)
def test_is_blank_ignores_whitespace_and_invisible_format_characters(text, blank):
    assert is_blank(text) is blank


def test_shown_safely_makes_bidi_controls_and_invisible_names_visible():
    """Catches a stored "\\u202emoc.evil" showing as "live.com" or a "\\u200b" name as a blank."""
    assert shown_safely("\u202emoc.evil") == "[U+202E]moc.evil"
    assert shown_safely("\u200b") == "[U+200B]"
    assert shown_safely("a\u200bb ≥ عربى") == "a\u200bb ≥ عربى"  # visible text kept as it is
    assert shown_safely("  ") == "  "


def test_check_strings_names_the_field_by_its_path():
    record = {"label": {"steps": [{"completions": [{"text": "ok"}, {"text": "bad\x00"}]}]}}
    with pytest.raises(TextError) as caught:
        check_strings(record, 100)
    assert str(caught.value).startswith("label.steps[0].completions[1].text: contains the control")


def test_check_strings_covers_keys_and_lengths():
    with pytest.raises(TextError, match=r"^metadata: a key contains the control character U\+0000"):
        check_strings({"metadata": {"se\x00ed": 1}}, 100)
    with pytest.raises(
        TextError,
        match=r"^steps\[0\]: 101 characters; at most 100 are allowed \(setting IMPORT_MAX_TEXT",
    ):
        check_strings({"steps": ["x" * 101]}, 100)
    assert check_strings({"a": ["xy", "z"], "b": 1.5, "c": None}, 100) == 6  # chars incl. keys


def test_check_text_for_posted_fields():
    check_text("fine\r\n", "reason", 10)
    with pytest.raises(TextError, match=r"^reason: 11 characters; at most 10"):
        check_text("x" * 11, "reason", 10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_steps": 0}, "max_steps: must be a positive integer"),
        ({"max_steps": 40000}, "max_steps: must be at most 32767"),
        ({"max_completions": 32768}, "max_completions: must be at most 32767"),
        ({"max_text_chars": "5"}, "max_text_chars: must be a positive integer"),
    ],
)
def test_limits_refuse_values_the_columns_cannot_hold(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImportLimits(**kwargs)


def test_invalid_limit_settings_stop_the_start_up():
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "IMPORT_MAX_STEPS": "100000",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "IMPORT_MAX_STEPS: must be at most 32767" in result.stderr


# --- reading files ----------------------------------------------------------------------------


def lines(data: bytes, limits=LIMITS):
    return list(iter_json_lines(io.BytesIO(data), limits))


def test_a_byte_order_mark_is_skipped_in_json_lines_and_arrays(tmp_path):
    """Issue 13: a file starting with a UTF-8 BOM was refused."""
    [(number, text, record, error)] = lines(BOM + b'{"a": 1}\n')
    assert (number, text, record, error) == (1, '{"a": 1}', {"a": 1}, None)
    path = tmp_path / "pool.json"
    path.write_bytes(BOM + b'[{"a": 1}, {"a": 2}]')
    assert [r for _, r, _ in iter_records(str(path))] == [{"a": 1}, {"a": 2}]


def test_only_a_leading_byte_order_mark_is_skipped():
    [_, (_, _, record, error)] = lines(b'{"a": 1}\n' + BOM + b'{"a": 2}\n')
    assert record is None and error.startswith("invalid JSON")


def test_a_line_over_the_record_limit_is_refused_without_reading_it_whole():
    limits = ImportLimits(max_record_bytes=100)
    data = b'{"a": "' + b"x" * 1000 + b'"}\n{"b": 2}\n'
    first, second = lines(data, limits)
    assert first[3] == (
        "record: 1,009 bytes; at most 100 are allowed (setting IMPORT_MAX_RECORD_BYTES)"
    )
    assert second[2] == {"b": 2}  # the next line is read as usual


def test_a_line_of_exactly_the_limit_is_accepted():
    text = b'{"a": "' + b"x" * 91 + b'"}'
    assert len(text) == 100
    [(_, _, record, error)] = lines(text + b"\r\n", ImportLimits(max_record_bytes=100))
    assert error is None and record == {"a": "x" * 91}


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"a": NaN}', "invalid JSON: NaN is not JSON"),
        (b'{"a": Infinity}', "invalid JSON: Infinity is not JSON"),
        (b'{"a": "\\ud83d"}', "a: contains a lone surrogate (U+D83D)"),
        (b'{"a": "\\u0000"}', "a: contains the control character U+0000 (NUL)"),
        (b"\xff{}", "not UTF-8 text (invalid start byte at byte 0)"),
        (b"[" * 100_000, "invalid JSON: nested too deeply"),
    ],
)
def test_malformed_lines_are_errors_not_crashes(raw, error):
    [(_, _, record, problem)] = lines(raw + b"\n")
    assert record is None and problem.startswith(error), problem


def test_big_integers_are_read_exactly():
    """orjson turns integers past 64 bits into floats; the reader must not."""
    assert loads('{"seed": 123456789012345678901234567890}') == {
        "seed": 123456789012345678901234567890
    }
    assert loads('{"x": [0.1, 1e5, -0.0, 18446744073709551615]}') == json.loads(
        '{"x": [0.1, 1e5, -0.0, 18446744073709551615]}'
    )


def test_a_json_array_is_read_item_by_item_with_locations(tmp_path):
    path = tmp_path / "pool.json"
    items = [{"n": i, "text": "é" * (i % 7)} for i in range(3000)]
    path.write_text(json.dumps(items, indent=1), encoding="utf-8")
    got = list(iter_records(str(path)))
    assert [record for _, record, _ in got] == items
    assert got[2999][0] == f"{path}:item 2999"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[{"a": 1}, {"a": "\\u0000"}]', "item 1: a: contains the control character U+0000"),
        ('[{"a": 1},\n {"a": 2]', ":2: invalid JSON"),
        ('[{"a": 1}] trailing', "invalid JSON: extra data after the array"),
        ('[{"a": 1}', "invalid JSON: the array is not closed"),
        ('{"a": 1}', None),  # not an array: read as JSON Lines
    ],
)
def test_json_array_errors(tmp_path, text, error):
    path = tmp_path / "pool.json"
    path.write_text(text, encoding="utf-8")
    errors = [e for _, _, e in iter_records(str(path)) if e]
    if error is None:
        assert errors == []
    else:
        assert any(error in f"{w}: {e}" for w, _, e in iter_records(str(path)) if e), errors


def test_steps_json_is_json_dumps():
    steps = ['a "quoted" \\ step', "é ≥ 😀", "tab\there\n", "", "\u2028"]
    assert steps_json(steps) == json.dumps(steps)
    assert steps_json([]) == json.dumps([])


def test_texts_required_non_empty_refuse_invisible_only_text():
    """Catches a phase-1 own step, an imported problem or candidate solution whose text is only
    a zero-width space passing as non-empty (it passed `.strip()`; issue 13)."""
    from labeling.phase1_rules import DraftError, parse_positions
    from labeling.services.problems import problem_record
    from labeling.services.solutions import solution_record

    with pytest.raises(DraftError, match=r"^steps\[0\]\.human: your own step is empty"):
        parse_positions([{"ratings": [], "human": "\u200b\ufeff"}])
    with pytest.raises(ValueError, match=r"^problem: empty"):
        problem_record({"problem": "\u200b", "answer": "1"})
    with pytest.raises(ValueError, match=r"^problem: must be a non-empty string"):
        solution_record({"problem": "\u2060 ", "steps": ["One.", "# Answer\n\n1"]})
    assert problem_record({"problem": "x\u200b", "answer": "1"}).text == "x\u200b"
