"""What text the platform accepts, from a file or a request, and the size limits of imports
(no Django: settings are passed in as an `ImportLimits`).

The policy (docs/formats.md, "Text and size limits"): a text is accepted when it is a sequence
of Unicode scalar values, i.e. it has no surrogate code point U+D800-U+DFFF (JSON's `\\ud83d`
escape on its own decodes to one; UTF-8 cannot encode it and PostgreSQL refuses it), and no
control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) except tab, line feed and
carriage return (a browser sends a text area's line breaks as CR LF), and no bidirectional
override, embedding or isolate control (U+202A-U+202E, U+2066-U+2069): one of them reorders the
text shown after it ("\u202emoc.evil" shows as "live.com"), so a reason or a name could show
something other than what it holds; and no noncharacter (U+FDD0-U+FDEF, and U+FFFE, U+FFFF and
the same last two of every plane up to U+10FFFF), which Unicode reserves for a program's own
use, never for text. NUL is a control character: PostgreSQL cannot store it in
text or jsonb, SQLite can, and the two databases must behave the same, so neither gets it.
The list is `REFUSED_CODE_POINTS` (mirrored by the phase-1 page's JavaScript). None of the
refused characters occurs in the PRM800K, MATH or ProcessBench data (checked over the shared
data sets, 2026-11-30: their only format characters are U+200B and U+2061; the noncharacters
again when they were added, over 1.88 million strings: none), so imports refuse them too.
Everything else (any script, math symbols, emoji written as a surrogate *pair* in JSON,
private-use characters, zero-width spaces inside a text) is accepted as it is, never rewritten;
pages still show user text isolated (`<bdi>`, the `isolate` template filter).

Where a text must not be empty (a give-up reason, an own step, a problem), "empty" means empty
after removing whitespace and invisible format characters (category Cf: zero-width spaces and
joiners, the byte-order mark, the soft hyphen, bidi marks): `is_blank`.

The same check covers object keys, so a record whose every value is clean but whose key holds a
NUL is refused too. Errors name the field as a path into the record (`steps[3]`,
`label.steps[0].completions[1].text`, `metadata.seed`).
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

# The code points no text may hold, as inclusive (first, last) ranges: every Cc character but
# \t \n \r, the bidi embedding and override controls (LRE RLE PDF LRO RLO), the bidi isolates
# (LRI RLI FSI PDI), the surrogates, and the noncharacters (U+FDD0-U+FDEF and the last two code
# points of every plane, U+FFFE U+FFFF ... U+10FFFF: Unicode keeps them out of interchanged
# text; U+FFFE is a byte-swapped byte-order mark). The one list of the server's refused
# characters, kept here so that JavaScript checking a text before it is sent (the phase-1 page)
# can mirror it.
REFUSED_CODE_POINTS: tuple[tuple[int, int], ...] = (
    (0x00, 0x08),
    (0x0B, 0x0C),
    (0x0E, 0x1F),
    (0x7F, 0x9F),
    (0x202A, 0x202E),
    (0x2066, 0x2069),
    (0xD800, 0xDFFF),
    (0xFDD0, 0xFDEF),
    *((plane + 0xFFFE, plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000)),
)
_FORBIDDEN = re.compile(
    "[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in REFUSED_CODE_POINTS) + "]"
)
_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_CONTROL_NAMES = {0: "NUL", 0x7F: "DEL"}
_TEXT_SETTING = "IMPORT_MAX_TEXT_CHARS"


@dataclass(frozen=True)
class ImportLimits:
    """Size limits of one imported record (settings IMPORT_MAX_*; docs/formats.md).

    `max_steps`: steps of a solution (and step positions of a PRM800K labeling);
    `max_completions`: candidate completions at one PRM800K step position;
    `max_text_chars`: characters of any one text (a step, a problem, an answer, a key);
    `max_record_bytes`: bytes of one record's JSON text (a line of JSON Lines, an item of a JSON
    array; for a Parquet row, the UTF-8 bytes of its texts).
    Step and completion positions are stored as 16-bit integers, so neither count may pass 32,767.
    """

    max_steps: int = 1000
    max_completions: int = 100
    max_text_chars: int = 100_000
    max_record_bytes: int = 4 * 1024 * 1024

    SMALLINT_MAX = 32767

    def __post_init__(self):
        for name in ("max_steps", "max_completions", "max_text_chars", "max_record_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        for name in ("max_steps", "max_completions"):
            if getattr(self, name) > self.SMALLINT_MAX:
                raise ValueError(
                    f"{name}: must be at most {self.SMALLINT_MAX} (stored as a 16-bit integer)"
                )


class TextError(ValueError):
    """A text (or a record) the policy refuses; `str()` is `field: what is wrong`."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _describe(char: str) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X}): not valid Unicode text"
    if code in _BIDI:
        return (
            f"the bidirectional control U+{code:04X} ({unicodedata.name(char)}): it reorders "
            "the text shown after it"
        )
    if 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:
        return f"the noncharacter U+{code:04X}: not meant for text"
    name = _CONTROL_NAMES.get(code)
    shown = f"U+{code:04X}" + (f" ({name})" if name else "")
    return f"the control character {shown}: only tab and line breaks are allowed"


def text_problem(text: str) -> str | None:
    """What is wrong with `text` under the policy (e.g. "contains a lone surrogate (U+D83D)
    ... at character 4", 1-based), or None when it is accepted. Length is not checked here."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    return f"contains {_describe(found.group())} (at character {found.start() + 1})"


_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


def shown_safely(text: str) -> str:
    """`text` as a page shows it: each bidi override, embedding or isolate control written as
    "[U+202E]" (so a stored "\\u202emoc.evil" reads "[U+202E]moc.evil", not "live.com"), and a
    non-empty text of only invisible characters spelt out ("[U+200B]"), so it is not a blank.
    Texts stored before the policy refused them can hold these; new ones cannot."""
    if text and not text.isspace() and is_blank(text):
        return "".join(char if char.isspace() else f"[U+{ord(char):04X}]" for char in text)
    return _BIDI_CONTROL.sub(lambda found: f"[U+{ord(found.group()):04X}]", text)


def is_blank(text: str) -> bool:
    """Whether `text` is empty once whitespace and invisible format characters (Unicode
    category Cf: U+200B zero-width space, U+200D joiner, U+FEFF byte-order mark, U+00AD soft
    hyphen, bidi marks and controls...) are removed: what "a non-empty text is required" means.
    Stops at the first visible character."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text)


def check_text(
    text: str, field: str, max_chars: int | None = None, setting: str | None = None
) -> None:
    """Raise TextError naming `field` when `text` breaks the policy or has more than
    `max_chars` characters (`setting`: the knob that sets that limit, named in the message)."""
    if max_chars is not None and len(text) > max_chars:
        knob = f" (setting {setting})" if setting else ""
        raise TextError(field, f"{len(text):,} characters; at most {max_chars:,} are allowed{knob}")
    problem = text_problem(text)
    if problem is not None:
        raise TextError(field, problem)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_strings(value: Any, max_chars: int, path: str = "") -> int:
    """Check every string in a decoded JSON value (object keys included) against the policy
    and `max_chars` (setting IMPORT_MAX_TEXT_CHARS); raise TextError naming the first bad one
    by its path. Returns the total characters of the strings seen (the size of a Parquet row).

    Speed matters (every imported record passes here): `str.isprintable()` clears most texts
    at C speed, and only a text it does not clear (line breaks, tabs, unusual characters) is
    searched for forbidden characters."""
    kind = type(value)
    if kind is str:
        if len(value) > max_chars or (
            not value.isprintable() and _FORBIDDEN.search(value) is not None
        ):
            check_text(value, path or "value", max_chars, _TEXT_SETTING)
        return len(value)
    total = 0
    if kind is dict:
        for key, item in value.items():
            if type(key) is str:
                if len(key) > max_chars or (
                    not key.isprintable() and _FORBIDDEN.search(key) is not None
                ):
                    try:
                        check_text(key, "key", max_chars, _TEXT_SETTING)
                    except TextError as exc:
                        raise TextError(path or "record", f"a key {exc.problem}") from None
                total += len(key)
            total += check_strings(item, max_chars, _join(path, str(key)))
    elif kind is list or kind is tuple:
        for index, item in enumerate(value):
            total += check_strings(item, max_chars, f"{path}[{index}]")
    return total


def check_count(count: int, field: str, limit: int, what: str, setting: str) -> None:
    """Raise TextError when `count` things exceed `limit` (`setting` names the knob)."""
    if count > limit:
        raise TextError(
            field, f"{count:,} {what}; at most {limit:,} are allowed (setting {setting})"
        )


def record_too_large(size: int, limits: ImportLimits, *, exact: bool = True) -> str:
    """The message for a record of `size` bytes over the limit (`exact` False: at least)."""
    amount = f"{size:,} bytes" if exact else f"more than {size - 1:,} bytes"
    return (
        f"record: {amount}; at most {limits.max_record_bytes:,} are allowed "
        "(setting IMPORT_MAX_RECORD_BYTES)"
    )
