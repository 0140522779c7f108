"""Reading record files (JSON Lines, a JSON array, Parquet) with a location for every record.

Locations read `FILE:LINE` for JSON Lines, `FILE:item N` for a JSON array and `FILE:row N` for
Parquet, so an error can say where the bad record is.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from labeling.errors import ApplicationError

Located = tuple[str, Any, str | None]  # (location, record or None, error or None)


def open_input(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise ApplicationError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ApplicationError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise ApplicationError(f"{path}: permission denied") from None


def iter_records(path: str, stream: IO[bytes] | None = None) -> Iterator[Located]:
    """Each record of the file at `path` with its location, or an error for a malformed one."""
    name = path
    if Path(path).suffix.lower() == ".parquet":
        yield from _iter_parquet(path)
        return
    stream = stream or open_input(path)
    with stream:
        head = stream.read(4096)
        stream.seek(0)
        if head.lstrip().startswith(b"["):
            yield from _iter_json_array(name, stream)
        else:
            yield from _iter_jsonl(name, stream)


def _iter_jsonl(name: str, stream: IO[bytes]) -> Iterator[Located]:
    for number, raw in enumerate(stream, start=1):
        where = f"{name}:{number}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield where, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            continue
        if not text.strip():
            continue
        try:
            yield where, json.loads(text), None
        except json.JSONDecodeError as exc:
            yield where, None, f"invalid JSON: {exc.msg} at column {exc.colno}"


def _iter_json_array(name: str, stream: IO[bytes]) -> Iterator[Located]:
    try:
        items = json.loads(stream.read().decode("utf-8"))
    except UnicodeDecodeError as exc:
        yield name, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        return
    except json.JSONDecodeError as exc:
        yield f"{name}:{exc.lineno}", None, f"invalid JSON: {exc.msg} at column {exc.colno}"
        return
    if not isinstance(items, list):
        yield name, None, "expected a JSON array of records"
        return
    for index, item in enumerate(items):
        yield f"{name}:item {index}", item, None


def _iter_parquet(path: str) -> Iterator[Located]:
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
            yield f"{path}:row {row}", record, None
            row += 1
