"""Validate a whole dataset: files, each table against its schema, references between tables, images,
and whether the data can serve what it is loaded for.

:func:`require_valid` is the one entry point every command and API call that reads a dataset goes
through: it loads (when given a path), validates and raises :class:`~culturecart.errors.InvalidInputError`
with every problem, before any heavy work starts.

Purposes (what the data must be able to serve, beyond the schema):

==========  ===================================================================================
purpose     also required
==========  ===================================================================================
any         nothing more (a table that is present must not be empty)
study       an events table whose ``purchased`` label has both classes (RQ1-RQ5, fit)
score       an events table with at least one row; the label is optional (predict)
matching    an items table and a groups table (product matching)
auto        ``study`` when the dataset has events, ``matching`` when it has groups only
==========  ===================================================================================
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

import pandas as pd

from culturecart.data.dataset import Dataset, UnsafePathError
from culturecart.data.image_file import image_problem
from culturecart.data.schema import MAX_ROWS_SHOWN, validate_table
from culturecart.errors import InvalidInputError, Problem

Purpose = Literal["any", "study", "matching", "score", "auto"]
PURPOSES = ("auto", "study", "matching", "score", "any")

# (table, column) -> (table, column) it must point into.
REFERENCES = [
    ("events", "user_id", "users", "user_id"),
    ("events", "item_id", "items", "item_id"),
    ("reviews", "item_id", "items", "item_id"),
    ("reviews", "user_id", "users", "user_id"),
    ("groups", "item_id", "items", "item_id"),
]
IMAGE_COLUMNS = [("items", "image_path"), ("reviews", "image_path")]


def validate_dataset(data: Dataset | str | Path, check_images: bool = True,
                     max_rows: int = MAX_ROWS_SHOWN, purpose: Purpose = "any") -> list[Problem]:
    """Every problem in a dataset; an empty list means it is valid for ``purpose``.

    Example:
        >>> import pandas as pd
        >>> ds = Dataset(items=pd.DataFrame({"item_id": ["a"]}),
        ...              events=pd.DataFrame({"session_id": ["s"], "item_id": ["b"], "purchased": [1]}))
        >>> [str(p) for p in validate_dataset(ds)]
        ["events.item_id: refers to ids missing from items.item_id; row 0; value 'b'"]
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {list(PURPOSES)}, not {purpose!r}")
    if isinstance(data, Dataset):
        ds = data
    else:
        try:
            ds = Dataset.load(Path(data))
        except InvalidInputError as err:
            return err.problems
    problems: list[Problem] = []
    if ds.items is None:
        problems.append(Problem("items", "the dataset has no items table (items.parquet or items.csv)"))
    for name in ds.tables():
        frame = ds.table(name)
        if frame.empty and name in ("items", "events", "users", "groups"):
            problems.append(Problem(name, "table is empty (no rows)"))
        optional = ("purchased",) if purpose == "score" and name == "events" else ()
        problems += validate_table(name, frame, max_rows, optional=optional)
    problems += _check_purpose(ds, purpose)
    problems += _check_references(ds, max_rows)
    if check_images:
        problems += _check_images(ds, max_rows)
    return problems


def require_valid(data: Dataset | str | Path, purpose: Purpose = "study", check_images: bool = True,
                  max_rows: int = MAX_ROWS_SHOWN) -> Dataset:
    """The dataset, loaded and checked for ``purpose``; :class:`InvalidInputError` listing every problem.

    Example:
        >>> import pandas as pd
        >>> ds = Dataset(items=pd.DataFrame({"item_id": ["a"]}),
        ...              events=pd.DataFrame({"session_id": ["s"], "item_id": ["a"], "purchased": [1]}))
        >>> require_valid(ds)
        Traceback (most recent call last):
        ...
        culturecart.errors.InvalidInputError: the dataset has 1 problem(s):
          events.purchased: every event has the same label (1): nothing to predict; a study needs both classes
    """
    ds = data if isinstance(data, Dataset) else Dataset.load(Path(data))
    problems = validate_dataset(ds, check_images=check_images, max_rows=max_rows, purpose=purpose)
    if problems:
        where = f"dataset {ds.root}" if ds.root is not None else "the dataset"
        raise InvalidInputError.from_problems(problems, where)
    return ds


def batch_problems(frame: pd.DataFrame, catalogue: Dataset, file: Path | str, first_row: int,
                   max_rows: int = MAX_ROWS_SHOWN) -> list[Problem]:
    """The problems of one batch of a streamed events table, checked as ``require_valid(..., purpose="score")``
    checks the whole one (schema, references into ``catalogue``'s users and items), each naming ``file`` and its
    rows (``first_row`` + the row in the batch)."""
    ds = Dataset(users=catalogue.users, items=catalogue.items, events=frame.reset_index(drop=True),
                 root=catalogue.root, meta=catalogue.meta)
    problems = validate_table("events", ds.events, max_rows, optional=("purchased",))
    problems += [p for p in _check_references(ds, max_rows) if p.table == "events"]
    return [replace(p, rows=tuple(first_row + r for r in p.rows), file=str(file)) for p in problems]


def require_valid_batch(frame: pd.DataFrame, catalogue: Dataset, file: Path | str, first_row: int) -> pd.DataFrame:
    """``frame`` when :func:`batch_problems` finds nothing; :class:`InvalidInputError` listing them otherwise."""
    problems = batch_problems(frame, catalogue, file, first_row)
    if problems:
        raise InvalidInputError.from_problems(problems, f"events {file}")
    return frame


def _check_purpose(ds: Dataset, purpose: Purpose) -> list[Problem]:
    if purpose == "auto":
        if ds.events is None and ds.groups is None:
            return [Problem("events", "the dataset has neither an events table (needed for a study) nor a groups "
                                      "table (needed for matching)")]
        purpose = "study" if ds.events is not None else "matching"
    if purpose == "matching" and ds.groups is None:
        return [Problem("groups", "matching needs a groups table (item_id, label_group)")]
    if purpose not in ("study", "score"):
        return []
    if ds.events is None:
        return [Problem("events", f"{'a study' if purpose == 'study' else 'scoring'} needs an events table "
                                  "(events.parquet or events.csv)")]
    if purpose == "score":
        return []
    if "purchased" not in ds.events.columns or ds.events.empty:
        return []  # reported by the schema check and the empty-table check
    labels = set(ds.events["purchased"].dropna().astype(str).unique())
    if len(labels) == 1:
        return [Problem("events", f"every event has the same label ({labels.pop()}): nothing to predict; a study "
                                  "needs both classes", column="purchased")]
    return []


def _check_references(ds: Dataset, max_rows: int) -> list[Problem]:
    problems = []
    for table, column, target, target_col in REFERENCES:
        frame = getattr(ds, table)
        if frame is None or column not in frame.columns:
            continue
        values = frame[column].reset_index(drop=True)
        present = values.notna()
        if not present.any():
            continue
        target_frame = getattr(ds, target)
        if target_frame is None or target_col not in target_frame.columns:
            problems.append(Problem(table, f"has {column} values but the dataset has no {target} table",
                                    column=column))
            continue
        known = set(target_frame[target_col].astype(str))
        bad = present & ~values.astype(str).isin(known)
        if bad.any():
            rows = bad[bad].index
            problems.append(Problem(
                table, f"refers to ids missing from {target}.{target_col}", column=column,
                rows=tuple(rows[:max_rows].tolist()), n_rows=int(bad.sum()),
                values=tuple(dict.fromkeys(repr(str(v)) for v in values[rows[:5]])),
            ))
    return problems


def check_image(path: Path) -> str | None:
    """Why ``path`` is not a usable image (missing, above the pixel limit, not decodable), or None."""
    return image_problem(path)


def _check_images(ds: Dataset, max_rows: int) -> list[Problem]:
    problems = []
    for table, column in IMAGE_COLUMNS:
        frame = getattr(ds, table)
        if frame is None or column not in frame.columns:
            continue
        by_reason: dict[str, list[tuple[int, str]]] = {}
        cache: dict[str, str | None] = {}
        for row, rel in enumerate(frame[column].tolist()):
            try:
                path = ds.resolve(rel)
            except UnsafePathError:
                by_reason.setdefault("image path leads outside the dataset folder and its declared image roots "
                                     "(dataset.json image_roots); refused", []).append((row, str(rel)))
                continue
            if path is None:
                continue
            key = str(path)
            if key not in cache:
                cache[key] = check_image(path)
            if cache[key]:
                by_reason.setdefault(cache[key], []).append((row, key))
        for reason, hits in by_reason.items():
            for row, key in hits[:max_rows]:
                problems.append(Problem(table, reason, column=column, rows=(row,), n_rows=1, file=key))
            if len(hits) > max_rows:
                problems.append(Problem(table, f"{reason}: {len(hits) - max_rows} more rows like this",
                                        column=column))
    return problems
