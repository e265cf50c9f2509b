"""The one exception family of the Python API, and the command line's exit codes.

Every error that bad input or a bad setting can cause is a :class:`CultureCartError`; anything else
that escapes is a bug. The command line maps the family onto exit codes:

======  ==============================================================================================
code    meaning
======  ==============================================================================================
0       success
1       the input is invalid (:class:`InvalidInputError`: data, source files, model folders, submissions)
2       usage or configuration error (:class:`UsageError`, :class:`ConfigError`: options, config files,
        output paths)
3       internal error (a bug: the traceback is written to a file and shown only with ``--debug``)
4       the environment failed (:class:`EnvironmentProblem`: a full disk, a folder that cannot be written, a
        cluster that cannot be reached); nothing half-written is kept
141     the reader of the output went away (``culturecart ... | head``): a quiet exit, as Unix tools make
======  ==============================================================================================

``InvalidInputError.problems`` lists every :class:`Problem` found, each naming its table or file,
column, rows and values.

Example:
    >>> from culturecart.data import Dataset, require_valid
    >>> import pandas as pd
    >>> ds = Dataset(items=pd.DataFrame({"item_id": ["a"], "price": [-1.0]}))
    >>> try:
    ...     require_valid(ds, purpose="any")
    ... except CultureCartError as err:
    ...     print(err.exit_code, err.problems[0])
    1 items.price: must be >= 0; row 0; value -1.0
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass

EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_ENVIRONMENT = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM: `kill`, `timeout`, a batch system's time limit
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (`| head`), as Unix tools exit


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is (table or file, column, rows, values) and what is wrong."""

    table: str
    message: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    n_rows: int = 0
    values: tuple[str, ...] = ()
    file: str | None = None

    def __str__(self) -> str:
        where = self.table + (f".{self.column}" if self.column else "")
        parts = [f"{where}: {self.message}"]
        if self.n_rows:
            shown = ", ".join(str(r) for r in self.rows)
            more = f" (+{self.n_rows - len(self.rows)} more)" if self.n_rows > len(self.rows) else ""
            parts.append(f"row{'s' if self.n_rows > 1 else ''} {shown}{more}")
        if self.values:
            parts.append("value" + ("s " if len(self.values) > 1 else " ") + ", ".join(self.values))
        if self.file:
            parts.append(f"file {self.file}")
        return "; ".join(parts)

    def as_dict(self) -> dict:
        """A JSON-able form (what ``culturecart validate --json`` prints, one per line)."""
        return {"table": self.table, "column": self.column, "rows": list(self.rows), "n_rows": self.n_rows,
                "values": list(self.values), "file": self.file, "message": self.message}


class CultureCartError(Exception):
    """Base of every error culturecart raises on purpose; ``problems`` lists what is wrong, if known."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        shown = "\n  ".join(str(p) for p in self.problems[:20])
        more = f"\n  (+{len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        return f"{head}\n  {shown}{more}"


class InvalidInputError(CultureCartError, ValueError):
    """The input (a dataset, a source file, a model folder, a submission) is invalid. Exit code 1."""

    exit_code = EXIT_INVALID_INPUT

    @classmethod
    def from_problems(cls, problems: list[Problem], what: str = "the dataset") -> InvalidInputError:
        return cls(f"{what} has {len(problems)} problem(s):", problems)


class MissingInputError(InvalidInputError, FileNotFoundError):
    """An input file or folder that does not exist. Exit code 1."""

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        CultureCartError.__init__(self, message, problems)


class UsageError(CultureCartError, ValueError):
    """A bad option, setting or output path. Exit code 2."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A config or option file that cannot be used; the message names the file or key. Exit code 2."""


class EnvironmentProblem(CultureCartError, OSError):
    """The machine, not the input or the settings: a full disk, a folder that cannot be written, a cluster that
    cannot be reached. The message names the folder or address. Exit code 4."""

    exit_code = EXIT_ENVIRONMENT

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        CultureCartError.__init__(self, message, problems)


ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO})
_ENVIRONMENT_TEXTS = ("No space left on device", "Disk quota exceeded", "Read-only file system")


def environment_cause(exc: BaseException) -> str | None:
    """Why an error raised while writing is the machine's (no space left, read-only, not permitted), or None.

    Libraries report a full disk in their own ways: Python and Arrow with ``errno``, some only in the message.
    """
    if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
        return exc.strerror or str(exc)
    text = str(exc)
    return next((t for t in _ENVIRONMENT_TEXTS if t in text), None)


def describe_decode_error(path: object, data: bytes, err: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8: byte offset, line and column (1-based), and the offending bytes."""
    offset = err.start
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    bad = data[offset:offset + 4].hex(" ")
    return (f"{path}: not UTF-8 text: byte offset {offset} (line {line}, column {column}) holds {bad}; "
            "save the file as UTF-8")
