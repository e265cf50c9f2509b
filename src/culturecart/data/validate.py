"""Validate a whole dataset: each table against its schema, references between tables, images."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from culturecart.data.dataset import Dataset, table_file
from culturecart.data.schema import MAX_ROWS_SHOWN, Problem, validate_table

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
                     max_rows: int = MAX_ROWS_SHOWN) -> list[Problem]:
    """Every problem in a dataset; an empty list means it is valid.

    Example:
        >>> import pandas as pd
        >>> ds = Dataset(items=pd.DataFrame({"item_id": ["a"]}),
        ...              events=pd.DataFrame({"session_id": ["s"], "item_id": ["b"], "purchased": [1]}))
        >>> [str(p) for p in validate_dataset(ds)]
        ["events.item_id: refers to ids missing from items.item_id; row 0; value 'b'"]
    """
    ds = data if isinstance(data, Dataset) else _load(Path(data))
    if isinstance(ds, list):
        return ds
    problems: list[Problem] = []
    if ds.items is None:
        problems.append(Problem("items", "the dataset has no items table (items.parquet or items.csv)"))
    for name in ds.tables():
        frame = ds.table(name)
        if name == "items" and frame.empty:
            problems.append(Problem("items", "table is empty"))
        problems += validate_table(name, frame, max_rows)
    problems += _check_references(ds, max_rows)
    if check_images:
        problems += _check_images(ds, max_rows)
    return problems


def _load(root: Path) -> Dataset | list[Problem]:
    if not root.is_dir():
        return [Problem("dataset", f"folder {root} does not exist")]
    try:
        return Dataset.load(root)
    except Exception as exc:  # a table that cannot even be parsed
        bad = [t for t in ("users", "items", "reviews", "events", "groups") if table_file(root, t)]
        return [Problem("dataset", f"cannot read tables {bad}: {type(exc).__name__}: {exc}")]


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
    """Why ``path`` is not a usable image, or None when it decodes fully."""
    if not path.exists():
        return "image file does not exist"
    try:
        with Image.open(path) as img:
            img.load()  # full decode: verify() alone misses truncated pixel data
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        return f"image cannot be decoded ({type(exc).__name__}: {exc})"
    return None


def _check_images(ds: Dataset, max_rows: int) -> list[Problem]:
    problems = []
    for table, column in IMAGE_COLUMNS:
        frame = getattr(ds, table)
        if frame is None or column not in frame.columns:
            continue
        by_reason: dict[str, list[tuple[int, str]]] = {}
        cache: dict[str, str | None] = {}
        for row, rel in enumerate(frame[column].tolist()):
            path = ds.resolve(rel)
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
