"""A dataset in the canonical model: tables in a folder (Parquet or CSV) plus images and metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from culturecart.atomic import atomic_dir, atomic_path, atomic_write_text
from culturecart.data.event_files import (
    EVENTS_FOLDER,
    ID_DTYPES,
    TABLE_EXTENSIONS,
    events_folder,
    folder_files,
    read_events_folder,
    table_files,
    unreadable,
)
from culturecart.data.schema import TABLES
from culturecart.errors import InvalidInputError, MissingInputError, Problem, describe_decode_error

META_FILE = "dataset.json"


class UnsafePathError(InvalidInputError):
    """A path in a dataset that leads outside the dataset folder and its declared image roots."""


@dataclass
class Dataset:
    """The five canonical tables (any may be absent) with the folder they came from.

    ``meta`` describes the data (name, source, what the label means); ``extras`` holds other
    JSON documents written beside the tables (``truth.json`` for the simulator); ``files`` holds
    binary files not yet on disk (relative path -> bytes, e.g. rendered images) that ``save`` writes.

    Example:
        >>> import pandas as pd
        >>> ds = Dataset(items=pd.DataFrame({"item_id": ["a"]}), meta={"name": "tiny"})
        >>> ds.tables()
        ['items']
    """

    users: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    reviews: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    groups: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)
    extras: dict[str, dict] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    root: Path | None = None

    @classmethod
    def from_frame(cls, df: pd.DataFrame, **roles) -> Dataset:
        """The canonical tables of one flat table, by naming what each column is (``label=``, ``item=``,
        ``user=``, ``session=``, ``time=``, ``country=``, ``consumer=[...]``, ``offer=[...]``, ``text=[...]``,
        ``images=[...]``, ``behaviour=[...]``): :func:`culturecart.data.frame.split_frame`.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"bought": [1, 0, 0], "user": ["a", "a", "b"], "sku": ["x", "y", "x"]})
            >>> Dataset.from_frame(df, label="bought", user="user", item="sku").events.columns.tolist()
            ['item_id', 'session_id', 'purchased', 'user_id']
        """
        from culturecart.data.frame import split_frame

        return cls(**split_frame(df, **roles))

    def tables(self) -> list[str]:
        """Names of the tables present."""
        return [t for t in TABLES if getattr(self, t) is not None]

    def table(self, name: str) -> pd.DataFrame:
        """One table; raises ``KeyError`` naming the table when it is absent."""
        frame = getattr(self, name, None)
        if name not in TABLES or frame is None:
            raise KeyError(f"dataset {self.meta.get('name', '?')!r} has no {name!r} table")
        return frame

    def image_roots(self) -> list[Path]:
        """Folders image paths may point into: the dataset folder and the ``image_roots`` of ``dataset.json``.

        ``convert shopee --images DIR`` declares ``DIR`` there, since it points at the user's image folder
        on purpose; relative entries are relative to the dataset folder.
        """
        base = self.root or Path.cwd()
        declared = self.meta.get("image_roots") or []
        return [base.resolve()] + [(base / str(r)).resolve() for r in declared]

    def resolve(self, relative: str | None) -> Path | None:
        """The path of a file named in a table (relative to the dataset folder), or None when missing.

        Raises :class:`UnsafePathError` when the path, absolute or climbing out with ``..`` (or through a
        link), leads outside the dataset folder and its declared :meth:`image_roots`: a dataset never makes
        culturecart open a file elsewhere on the machine.
        """
        if relative is None or (isinstance(relative, float) and pd.isna(relative)) or relative == "":
            return None
        p = Path(str(relative))
        full = p if p.is_absolute() else (self.root or Path.cwd()) / p
        real = full.resolve()
        if not any(real.is_relative_to(r) for r in self.image_roots()):
            raise UnsafePathError(f"path {relative!r} leads outside the dataset folder and its declared image "
                                  "roots (dataset.json image_roots)",
                                  [Problem("dataset", "path leads outside the dataset folder", file=str(relative))])
        return full

    def save(self, out: str | Path, fmt: str = "parquet", overwrite: bool = False,
             events_file_rows: int | None = None) -> Path:
        """Write the dataset to ``out`` atomically (tables, ``dataset.json``, extras, ``files``).

        ``events_file_rows``: the events as a folder ``events/`` of Parquet files of at most that many rows each
        (the layout for data larger than memory) instead of one file. Files already on disk under a previous
        ``root`` are not copied: image paths stay as they are. Returns the folder.
        """
        out = Path(out)
        if events_file_rows is not None and (events_file_rows < 1 or fmt != "parquet"):
            raise ValueError("events_file_rows needs fmt='parquet' and at least 1 row per file")
        with atomic_dir(out, overwrite=overwrite) as tmp:
            self.write_tables(tmp, fmt, events_file_rows)
            for rel, data in self.files.items():
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        self.root = out
        return out

    def write_tables(self, folder: Path, fmt: str = "parquet", events_file_rows: int | None = None) -> None:
        """Write tables and JSON documents into an existing ``folder`` (each file atomically)."""
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"format must be 'parquet' or 'csv', not {fmt!r}")
        for name in self.tables():
            if name == "events" and events_file_rows:
                (folder / EVENTS_FOLDER).mkdir(exist_ok=True)
                for k, first in enumerate(range(0, max(len(self.events), 1), events_file_rows)):
                    with atomic_path(folder / EVENTS_FOLDER / f"part-{k:05d}.parquet") as tmp:
                        self.events.iloc[first:first + events_file_rows].to_parquet(tmp, index=False)
                continue
            with atomic_path(folder / f"{name}.{fmt}") as tmp:
                frame = self.table(name)
                if fmt == "parquet":
                    frame.to_parquet(tmp, index=False)
                else:
                    frame.to_csv(tmp, index=False)
        atomic_write_text(folder / META_FILE, json.dumps(self.meta, indent=2, ensure_ascii=False))
        for fname, doc in self.extras.items():
            atomic_write_text(folder / fname, json.dumps(doc, indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path, events: bool = True) -> Dataset:
        """Read a dataset folder (tables as stored; :func:`~culturecart.data.validate.require_valid` checks them).

        ``events=False`` reads every table but the events (a streaming reader reads them batch by batch).

        Raises :class:`~culturecart.errors.InvalidInputError` naming every file that cannot be read
        (encoding errors with byte offset and line, truncated Parquet, invalid JSON) and every table stored
        twice (``events.parquet`` beside ``events.csv``).
        """
        root = Path(path)
        if not root.exists():
            raise MissingInputError(f"dataset folder {root} does not exist",
                                    [Problem("dataset", "folder does not exist", file=str(root))])
        if not root.is_dir():
            raise InvalidInputError(f"{root} is a file, not a dataset folder",
                                    [Problem("dataset", "is a file, not a dataset folder", file=str(root))])
        ds = cls(root=root)
        problems: list[Problem] = []
        for name in TABLES:
            if name == "events" and not events:
                continue
            try:
                setattr(ds, name, read_table(root, name))
            except InvalidInputError as err:
                problems += err.problems
        for path in sorted(root.iterdir()):
            if path.is_dir() and (path.suffix == ".json" or any(path.name.endswith(e) for e in TABLE_EXTENSIONS)):
                problems.append(Problem("dataset", "is a folder where a file belongs", file=str(path)))
        for doc in sorted(p for p in root.glob("*.json") if p.is_file()):
            try:
                parsed = read_json(doc)
            except InvalidInputError as err:
                problems += err.problems
                continue
            if doc.name == META_FILE:
                ds.meta = parsed
            else:
                ds.extras[doc.name] = parsed
        if problems:
            raise InvalidInputError.from_problems(problems, f"dataset folder {root}")
        return ds


def table_file(root: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``root``, or None."""
    files = table_files(root, name)
    return files[0] if files else None


def read_table(root: Path, name: str) -> pd.DataFrame | None:
    """Read one table from a dataset folder, or None when the folder has no such table (events may also be a
    folder ``events/`` of Parquet files: :mod:`culturecart.data.event_files`)."""
    files = table_files(root, name)
    folder = events_folder(root) if name == "events" else None
    if folder is not None:
        files = [*files, folder]
    if not files:
        return None
    if len(files) > 1:
        shown = " and ".join(f.name + ("/" if f.is_dir() else "") for f in files)
        raise InvalidInputError(f"table {name} is stored twice", [Problem(
            name, f"stored twice ({shown}): keep one file per table", file=str(files[0]))])
    path = files[0]
    if path.is_dir():
        return _read_events_folder(path)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        # Ids stay text in CSV: "007" must not become 7.
        return pd.read_csv(path, dtype=ID_DTYPES)
    except Exception as exc:  # any reader failure is a property of the file; say which and why
        raise InvalidInputError(f"cannot read {path}", [Problem(name, unreadable(path, exc), file=str(path))]) from exc


def _read_events_folder(folder: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    problems = []
    for f in folder_files(folder):
        try:
            pq.ParquetFile(f).metadata  # noqa: B018 - opening checks the footer
        except Exception as exc:
            problems.append(Problem("events", unreadable(f, exc), file=str(f)))
    if problems:
        raise InvalidInputError(f"cannot read {folder}", problems)
    if not folder_files(folder):
        raise InvalidInputError(f"{folder} holds no Parquet files", [Problem(
            "events", "the events folder holds no .parquet files", file=str(folder))])
    try:
        return read_events_folder(folder)
    except Exception as exc:
        raise InvalidInputError(f"cannot read {folder}", [Problem("events", unreadable(folder, exc),
                                                                  file=str(folder))]) from exc


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; :class:`InvalidInputError` naming the file, line and column otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}", [Problem("dataset", f"cannot be read ({exc.strerror})",
                                                                file=str(path))]) from None
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        message = describe_decode_error(path.name, data, exc)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    else:
        if isinstance(value, dict):
            return value
        message = f"must hold a JSON object, not {type(value).__name__}"
    raise InvalidInputError(f"cannot read {path}", [Problem("dataset", message, file=str(path))])
