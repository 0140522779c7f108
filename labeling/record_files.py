"""Reading record files (JSON Lines, a JSON array, Parquet) with a location for every record.

Locations read `FILE:LINE` for JSON Lines, `FILE:item N` for a JSON array and `FILE:row N` for
Parquet, so an error can say where the bad record is.

Every record read here has passed the text policy (`labeling.text_policy`: valid Unicode, no
control characters but tab and line breaks, no text longer than IMPORT_MAX_TEXT_CHARS) and the
record size limit, or comes with the error that says why not; importers check their own fields
and counts on top. A UTF-8 byte-order mark at the start of a file is skipped. Files are read as
streams: memory does not grow with the file, and a record over the size limit is never held in
memory whole (a 1.4 GB line is refused after reading its first IMPORT_MAX_RECORD_BYTES).
"""

import codecs
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from labeling.errors import ApplicationError
from labeling.text_policy import ImportLimits, TextError, check_strings, record_too_large

Located = tuple[str, Any, str | None]  # (location, record or None, error or None)
BOM = b"\xef\xbb\xbf"
_READ_CHUNK = 1 << 20  # bytes read at a time from a JSON array, or to skip an over-long line
_WHITESPACE = " \t\n\r"
MAX_REPORTED_ERRORS = 50  # bad records named in an import's error report; the rest are counted
PROGRESS_EVERY = 1000  # records between two progress calls of an import


class BadRecords:
    """The error report of an all-or-nothing import: every bad record is counted, the first
    MAX_REPORTED_ERRORS are named (`WHERE: what is wrong`). Once one is bad the importer keeps
    validating (to report more) but writes nothing; `raise_if_any` ends the import with them
    all. One report for every format (problems, solutions, PRM800K labels)."""

    def __init__(self, name: str, noun: str = "record"):
        self.name, self.noun = name, noun  # the file as the user knows it; "record" or "line"
        self.errors: list[str] = []
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, where: str, error: str) -> None:
        self.count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(f"{where}: {error}")

    def raise_if_any(self) -> None:
        """ApplicationError `NAME: N bad record(s); nothing was imported.` with the named ones
        (and `... and M more bad records`) as details; nothing when every record was good. Raised
        inside the import's transaction it rolls back whatever was written."""
        if not self.count:
            return
        errors = list(self.errors)
        if self.count > len(errors):
            errors.append(f"... and {self.count - len(errors)} more bad {self.noun}s")
        raise ApplicationError(
            f"{self.name}: {self.count} bad {self.noun}(s); nothing was imported.", details=errors
        )


def validated_records(
    located: Iterable[Located],
    parse: Callable[[Any, str], Any],
    bad: BadRecords,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[str, Any]]:
    """The all-or-nothing validation loop: `(where, parse(record, where))` for each good record of
    `located` (as `iter_records` yields them) until the first bad one; from then on the rest is
    still read and checked, and every bad one (a read error, or `parse` raising ValueError) goes
    into `bad`, but nothing more is yielded. `progress(records read)` every PROGRESS_EVERY.
    The caller calls `bad.raise_if_any()` after the loop."""
    for count, (where, raw, error) in enumerate(located, start=1):
        if progress and count % PROGRESS_EVERY == 0:
            progress(count)
        if error is None:
            try:
                value = parse(raw, where)
            except ValueError as exc:
                error = str(exc)
            else:
                if not bad:
                    yield where, value
                continue
        bad.add(where, error)


def import_limits() -> ImportLimits:
    """The limits the settings give (IMPORT_MAX_*; checked at start-up)."""
    from django.conf import settings

    return ImportLimits(
        max_steps=settings.IMPORT_MAX_STEPS,
        max_completions=settings.IMPORT_MAX_COMPLETIONS,
        max_text_chars=settings.IMPORT_MAX_TEXT_CHARS,
        max_record_bytes=settings.IMPORT_MAX_RECORD_BYTES,
    )


def open_input(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise ApplicationError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ApplicationError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise ApplicationError(f"{path}: permission denied") from None


# orjson reads an integer past 64 bits as a float where `json` keeps it exact: a line with a
# run of 19 digits or more is read with `json` (every digit mapped to "0", then one substring
# search: a regex would cost as much as the parse).
_DIGITS_AS_ZERO = bytes(ord("0") if chr(i).isdigit() and i < 128 else i for i in range(256))
_LONG_NUMBER = b"0" * 19


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def loads(text: str) -> Any:
    """Decode one JSON text exactly as `json.loads` would (orjson where it gives the same
    objects: four times faster), except that NaN and Infinity are refused: they are not JSON
    and PostgreSQL's jsonb cannot hold them. Raises ValueError (json.JSONDecodeError for
    malformed JSON)."""
    data = text.encode("utf-8", "surrogatepass")
    if _LONG_NUMBER not in data.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # let `json` say what is wrong (or read what orjson refuses: lone surrogates)
    return json.loads(text, parse_constant=_reject_constant)


def checked(record: Any, limits: ImportLimits) -> str | None:
    """The text policy over a whole decoded record: None, or `field: what is wrong`."""
    try:
        check_strings(record, limits.max_text_chars)
    except TextError as exc:
        return str(exc)
    except RecursionError:
        return "record: nested too deeply"
    return None


def iter_records(
    path: str, stream: IO[bytes] | None = None, limits: ImportLimits | None = None
) -> Iterator[Located]:
    """Each record of the file at `path` with its location, or an error for a malformed one."""
    limits = limits or import_limits()
    if Path(path).suffix.lower() == ".parquet":
        yield from _iter_parquet(path, limits)
        return
    stream = stream or open_input(path)
    with stream:
        head = stream.read(4096)
        stream.seek(0)
        if head.startswith(BOM):
            head = head[len(BOM) :]
        if head.lstrip().startswith(b"["):
            yield from _iter_json_array(path, stream, limits)
        else:
            for number, _, record, error in iter_json_lines(stream, limits):
                yield f"{path}:{number}", record, error


def iter_json_lines(
    stream: IO[bytes], limits: ImportLimits
) -> Iterator[tuple[int, str | None, Any, str | None]]:
    """(line number, line text without its line ending, decoded record, error) for each
    non-blank line of a JSON Lines stream: the record is None when there is an error (not
    UTF-8, over the size limit, invalid JSON, or text the policy refuses)."""
    number = 0
    limit = limits.max_record_bytes
    while True:
        raw = stream.readline(limit + 2)  # the limit, and a line ending of up to 2 bytes
        if not raw:
            return
        number += 1
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if not raw.endswith(b"\n") and len(raw) > limit:
            # longer than the limit: skip the rest of the line without holding it in memory
            size = len(raw)
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(_READ_CHUNK)
                size += len(raw)
            yield number, None, None, record_too_large(size - _ending(raw), limits)
            continue
        if len(raw) - _ending(raw) > limit:
            yield number, None, None, record_too_large(len(raw) - _ending(raw), limits)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            continue
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            record = loads(text)
        except json.JSONDecodeError as exc:
            yield number, text, None, f"invalid JSON: {exc.msg} at column {exc.colno}"
            continue
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            yield number, text, None, f"invalid JSON: {reason}"
            continue
        problem = checked(record, limits)
        yield number, text, (None if problem else record), problem


def _ending(raw: bytes) -> int:
    """Bytes of the line ending at the end of `raw` (CR LF, LF or none)."""
    return 2 if raw.endswith(b"\r\n") else 1 if raw.endswith(b"\n") else 0


def _iter_json_array(name: str, stream: IO[bytes], limits: ImportLimits) -> Iterator[Located]:
    """The items of a JSON array, decoded one at a time from a buffer that holds at most about
    one item (plus a read chunk), so memory does not grow with the file."""
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    text_decoder = codecs.getincrementaldecoder("utf-8")()
    buffer, at, line, eof = "", 0, 1, False
    first = True

    def more() -> bool:
        nonlocal buffer, at, eof, first
        if eof:
            return False
        chunk = stream.read(_READ_CHUNK)
        if first:
            first = False
            if chunk.startswith(BOM):
                chunk = chunk[len(BOM) :]
        try:
            text = text_decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise _ArrayError(f"not UTF-8 text ({exc.reason})") from None
        if not chunk:
            eof = True
        buffer, at = buffer[at:] + text, 0
        return bool(chunk) or bool(text)

    def skip_space() -> None:
        nonlocal at, line
        while True:
            while at < len(buffer) and buffer[at] in _WHITESPACE:
                if buffer[at] == "\n":
                    line += 1
                at += 1
            if at < len(buffer) or not more():
                return

    try:
        skip_space()
        if at >= len(buffer) or buffer[at] != "[":
            yield name, None, "expected a JSON array of records"
            return
        at += 1
        index = 0
        skip_space()
        if at < len(buffer) and buffer[at] == "]":
            return
        while True:
            skip_space()
            while True:
                try:
                    item, end = decoder.raw_decode(buffer, at)
                except (RecursionError, ValueError) as exc:
                    if not isinstance(exc, json.JSONDecodeError):
                        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
                        raise _ArrayError(f"invalid JSON: {reason}", line) from None
                    if len(buffer) - at > limits.max_record_bytes:
                        raise _ArrayError(
                            f"item {index}: "
                            + record_too_large(limits.max_record_bytes + 1, limits, exact=False)
                            + " (or invalid JSON; the rest of the file is not read)",
                            line,
                        ) from None
                    if more():
                        continue
                    raise _ArrayError(
                        f"invalid JSON: {exc.msg} at column {exc.colno}",
                        line + buffer.count("\n", at, exc.pos),
                    ) from None
                break
            where = f"{name}:item {index}"
            size = end - at
            if size > limits.max_record_bytes or (
                size * 4 > limits.max_record_bytes
                and len(buffer[at:end].encode("utf-8")) > limits.max_record_bytes
            ):
                yield where, None, record_too_large(len(buffer[at:end].encode("utf-8")), limits)
            else:
                problem = checked(item, limits)
                yield where, (None if problem else item), problem
            line += buffer.count("\n", at, end)
            at = end
            index += 1
            skip_space()
            if at >= len(buffer):
                raise _ArrayError("invalid JSON: the array is not closed with ]", line)
            if buffer[at] == "]":
                at += 1
                skip_space()
                if at < len(buffer):
                    raise _ArrayError("invalid JSON: extra data after the array", line)
                return
            if buffer[at] != ",":
                raise _ArrayError(f"invalid JSON: expected , or ] after item {index - 1}", line)
            at += 1
    except _ArrayError as exc:
        where = f"{name}:{exc.line}" if exc.line else name
        yield where, None, exc.message


class _ArrayError(Exception):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def _iter_parquet(path: str, limits: ImportLimits) -> Iterator[Located]:
    import pyarrow.parquet as pq  # only needed for Parquet input

    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError:
        raise ApplicationError(f"{path}: no such file") from None
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise ApplicationError(f"{path}: not a readable Parquet file ({exc})") from None
    row = 0
    for batch in parquet.iter_batches(batch_size=2048):
        for record in batch.to_pylist():
            where = f"{path}:row {row}"
            row += 1
            try:
                size = check_strings(record, limits.max_text_chars)
            except TextError as exc:
                yield where, None, str(exc)
                continue
            except RecursionError:
                yield where, None, "record: nested too deeply"
                continue
            if size > limits.max_record_bytes:
                yield where, None, record_too_large(size, limits)
                continue
            yield where, record, None
