"""Where a dataset's events live, and reading them batch by batch.

A dataset folder holds its events in one file (``events.parquet``, ``events.csv`` or ``events.csv.gz``) or, for
data larger than memory, in a folder ``events/`` of Parquet files (any depth, e.g. Hive-style ``country=KR/``
partitions; read in path order, so the row order of the whole table is defined). Every reader goes through
:func:`event_files`: ``Dataset.load`` (the whole table), the streaming scorer (:func:`iter_event_batches`), the
study's data key (which hashes every file under the folder).

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "events").mkdir()
    >>> for k in range(2):
    ...     pd.DataFrame({"session_id": [f"s{k}"], "item_id": ["a"]}).to_parquet(root / "events" / f"part-{k}.parquet")
    >>> [(b.file.name, b.first_row, len(b.frame)) for b in iter_event_batches(event_files(root), 10)]
    [('part-0.parquet', 0, 1), ('part-1.parquet', 0, 1)]
"""

from __future__ import annotations

import contextlib
import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from culturecart.errors import InvalidInputError, Problem, describe_decode_error

TABLE_EXTENSIONS = (".parquet", ".csv", ".csv.gz")
EVENTS_FOLDER = "events"
ID_DTYPES = {"user_id": str, "item_id": str, "session_id": str, "review_id": str, "label_group": str}


@dataclass(frozen=True)
class EventBatch:
    """Rows ``first_row`` .. ``first_row + len(frame) - 1`` of one events file."""

    file: Path
    first_row: int
    frame: pd.DataFrame


def events_folder(root: Path) -> Path | None:
    """``root/events/`` when it is a folder of event files, else None."""
    folder = Path(root) / EVENTS_FOLDER
    return folder if folder.is_dir() else None


def folder_files(folder: Path) -> list[Path]:
    """The Parquet files under a partitioned events folder, in path order (hidden files and folders skipped)."""
    found = []
    for path in sorted(folder.rglob("*.parquet")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith((".", "_")) for part in rel.parts):
            found.append(path)
    return found


def table_files(root: Path, name: str) -> list[Path]:
    """Every file in ``root`` that holds table ``name`` (more than one is an error for the reader)."""
    return [root / f"{name}{ext}" for ext in TABLE_EXTENSIONS if (root / f"{name}{ext}").is_file()]


def event_files(root: Path) -> list[Path]:
    """The files holding a dataset's events: the one table file, or the Parquet files of ``events/``."""
    folder = events_folder(root)
    return folder_files(folder) if folder is not None else table_files(Path(root), "events")


def read_events_folder(folder: Path) -> pd.DataFrame:
    """The whole events table of a partitioned folder (its files concatenated in path order)."""
    files = folder_files(folder)
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def iter_event_batches(files: list[Path], batch_rows: int, columns: list[str] | None = None
                       ) -> Iterator[EventBatch]:
    """Batches of at most ``batch_rows`` events, file by file (Parquet by record batches, CSV by chunks); only
    ``columns`` when given (those a file lacks are skipped). A file that cannot be read is an
    :class:`~culturecart.errors.InvalidInputError` naming it and why."""
    for file in files:
        with _reading(file):
            yield from _batches(file, batch_rows, columns)


@contextlib.contextmanager
def _reading(file: Path) -> Iterator[None]:
    try:
        yield
    except (InvalidInputError, MemoryError):
        raise
    except Exception as exc:  # any reader failure is a property of the file; say which and why
        raise InvalidInputError(f"cannot read {file}", [Problem("events", unreadable(file, exc),
                                                                file=str(file))]) from exc


def _batches(file: Path, batch_rows: int, columns: list[str] | None) -> Iterator[EventBatch]:
    import pyarrow.parquet as pq

    first = 0
    if file.suffix == ".parquet":
        handle = pq.ParquetFile(file)
        present = set(handle.schema_arrow.names)
        wanted = None if columns is None else [c for c in columns if c in present]
        for record_batch in handle.iter_batches(batch_size=batch_rows, columns=wanted):
            frame = record_batch.to_pandas()
            yield EventBatch(file, first, frame)
            first += len(frame)
        if first == 0:
            yield EventBatch(file, 0, handle.schema_arrow.empty_table().to_pandas())
        return
    header = pd.read_csv(file, nrows=0).columns
    wanted = None if columns is None else [c for c in columns if c in header]
    for frame in pd.read_csv(file, dtype=ID_DTYPES, chunksize=batch_rows, usecols=wanted):
        yield EventBatch(file, first, frame)
        first += len(frame)


def event_rows(files: list[Path]) -> int:
    """How many events the files hold (Parquet from its metadata, CSV by reading one column)."""
    import pyarrow.parquet as pq

    total = 0
    for f in files:
        with _reading(f):
            if f.suffix == ".parquet":
                total += pq.ParquetFile(f).metadata.num_rows
            else:
                total += sum(len(c) for c in pd.read_csv(f, usecols=[0], chunksize=1_000_000))
    return total


def files_signature(files: list[Path]) -> list[dict]:
    """Name, size and modification time of each file: what a resumed run compares to decide what is stale."""
    out = []
    for f in files:
        st = os.stat(f)
        out.append({"file": str(f), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def unreadable(path: Path, exc: BaseException) -> str:
    """Why a table file could not be read, in words (with byte offset and line for encoding errors)."""
    if isinstance(exc, UnicodeDecodeError):
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rb") as fh:
                data = fh.read()
            data.decode("utf-8")
        except UnicodeDecodeError as exact:  # pandas reports offsets within its read buffer; find the file's
            return describe_decode_error(path.name, data, exact).split(": ", 1)[1]
        except (OSError, EOFError):
            pass
        return f"not UTF-8 text: {exc}"
    if isinstance(exc, gzip.BadGzipFile):
        return f"not a gzip file although its name ends in .gz ({exc})"
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower() or "end of stream" in str(exc).lower():
        return f"file is truncated ({type(exc).__name__}: {exc})"
    if isinstance(exc, pd.errors.EmptyDataError):
        return "file is empty (not even a header row)"
    if path.suffix == ".parquet":
        return f"cannot be read as Parquet (truncated or not a Parquet file: {type(exc).__name__}: {exc})"
    return f"cannot be read as CSV ({type(exc).__name__}: {exc})"
