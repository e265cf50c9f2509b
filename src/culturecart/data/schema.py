"""The canonical data model: one declared pandera schema per table.

A dataset is a folder of tables (Parquet or CSV) plus images. Every adapter writes these tables and
every model reads them. Required columns must be present; optional columns are checked when present;
any other column is allowed and passed through (for example ``bhv_*`` behaviour features on events).

==========  =========================================================================================
table       columns (required in **bold**)
==========  =========================================================================================
users       **user_id** (unique), **country** (ISO 3166 alpha-2 or missing), age, gender
items       **item_id** (unique), title, description, brand, category, price (>= 0), discount_rate
            ([0, 1]), free_shipping, rating ([0, 5]), review_count (>= 0), image_path
reviews     **item_id**, **text**, review_id (unique), user_id, rating ([0, 5]), image_path, language
events      **session_id**, **item_id**, **purchased** (0/1, the label), user_id, timestamp, position
            (>= 1), query, dwell_time_s (>= 0), clicked (0/1)
groups      **item_id** (unique), **label_group**
==========  =========================================================================================

Columns whose name starts with ``bhv_`` on events are behaviour features (numeric). Image paths are
relative to the dataset folder or absolute.

Example:
    >>> import pandas as pd
    >>> problems = validate_table("items", pd.DataFrame({"item_id": ["a", "a"], "price": [1.0, -2.0]}))
    >>> sorted({p.message for p in problems})
    ['duplicate value in a unique column', 'must be >= 0']
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
import pycountry

from culturecart.errors import Problem

TABLES = ("users", "items", "reviews", "events", "groups")
ISO_COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
BEHAVIOUR_PREFIX = "bhv_"


def _check(fn: Callable[[pd.Series], pd.Series], message: str) -> pa.Check:
    # The check's name is what pandera reports, so it carries the plain-words message.
    return pa.Check(fn, name=message)


NON_NEGATIVE = _check(lambda s: s >= 0, "must be >= 0")
UNIT_INTERVAL = _check(lambda s: s.between(0, 1), "must lie in [0, 1]")
STAR_RATING = _check(lambda s: s.between(0, 5), "must lie in [0, 5]")
BINARY = _check(lambda s: s.isin([0, 1]), "label must be 0 or 1")
POSITION = _check(lambda s: s >= 1, "position must be >= 1")
AGE = _check(lambda s: s.between(0, 120), "age must lie in [0, 120]")
COUNTRY = _check(lambda s: s.isin(ISO_COUNTRIES), "unknown ISO 3166 alpha-2 country code")
NON_EMPTY_ID = _check(lambda s: s.str.len() > 0, "empty id")


def _id(unique: bool = False, required: bool = True, nullable: bool = False) -> pa.Column:
    return pa.Column(str, NON_EMPTY_ID, unique=unique, required=required, nullable=nullable)


def _opt(dtype: object, *checks: pa.Check) -> pa.Column:
    return pa.Column(dtype, list(checks), nullable=True, required=False)


def _frame(columns: dict[str, pa.Column], name: str) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(columns, name=name, strict=False, coerce=True)


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "users": _frame(
        {
            "user_id": _id(unique=True),
            "country": pa.Column(str, COUNTRY, nullable=True, required=True),
            "age": _opt(float, AGE),
            "gender": _opt(str),
        },
        "users",
    ),
    "items": _frame(
        {
            "item_id": _id(unique=True),
            "title": _opt(str),
            "description": _opt(str),
            "brand": _opt(str),
            "category": _opt(str),
            "price": _opt(float, NON_NEGATIVE),
            "discount_rate": _opt(float, UNIT_INTERVAL),
            "free_shipping": _opt("boolean"),
            "rating": _opt(float, STAR_RATING),
            "review_count": _opt(float, NON_NEGATIVE),
            "image_path": _opt(str),
        },
        "items",
    ),
    "reviews": _frame(
        {
            "item_id": _id(),
            "text": pa.Column(str, nullable=True, required=True),
            "review_id": _id(unique=True, required=False),
            "user_id": _id(required=False, nullable=True),
            "rating": _opt(float, STAR_RATING),
            "image_path": _opt(str),
            "language": _opt(str),
        },
        "reviews",
    ),
    "events": _frame(
        {
            "session_id": _id(),
            "item_id": _id(),
            "purchased": pa.Column("int64", BINARY, nullable=False, required=True),
            "user_id": _id(required=False, nullable=True),
            "timestamp": _opt("datetime64[ns]"),
            "position": _opt(float, POSITION),
            "query": _opt(str),
            "dwell_time_s": _opt(float, NON_NEGATIVE),
            "clicked": _opt(float, BINARY),
        },
        "events",
    ),
    "groups": _frame({"item_id": _id(unique=True), "label_group": _id()}, "groups"),
}

_PANDERA_WORDS = [
    (re.compile(r"^not_nullable$"), "missing value (NaN/None) in a required column"),
    (re.compile(r"^field_uniqueness$"), "duplicate value in a unique column"),
    (re.compile(r"^column_in_dataframe$"), "required column is missing"),
    (re.compile(r"^coerce_dtype\('(.*)'\)$"), r"cannot be read as \1"),
    (re.compile(r"^dtype\('(.*)'\)$"), r"wrong type, expected \1"),
]
MAX_ROWS_SHOWN = 20


def _plain(check: str) -> str:
    for pattern, words in _PANDERA_WORDS:
        if pattern.match(check):
            return pattern.sub(words, check)
    return check


def validate_table(table: str, df: pd.DataFrame, max_rows: int = MAX_ROWS_SHOWN,
                   optional: tuple[str, ...] = ()) -> list[Problem]:
    """Check one table against its schema; return every problem (empty list when valid).

    Rows are 0-based positions of data rows in the table (the header is not counted). Columns in
    ``optional`` may be absent (scoring data has no label) but are checked when present.
    """
    schema = SCHEMAS[table]
    for column in optional:
        schema = schema.update_column(column, required=False)
    frame = df.reset_index(drop=True)
    try:
        schema.validate(frame, lazy=True)
        problems = []
    except pandera.errors.SchemaErrors as err:
        problems = _problems_from_failures(table, err.failure_cases, max_rows)
    return problems + _numeric_problems(table, frame, schema, max_rows)


def _numeric_problems(table: str, frame: pd.DataFrame, schema: pa.DataFrameSchema, max_rows: int) -> list[Problem]:
    """Infinite values in any numeric column, and ``bhv_*`` behaviour columns that are not numbers.

    pandera's range checks let +-inf through (``inf >= 0``), and models cannot use them.
    """
    problems = []
    float_columns = {name for name, col in schema.columns.items() if str(col.dtype) in ("float64", "int64")}
    for column in frame.columns:
        values = frame[column]
        behaviour = table == "events" and str(column).startswith(BEHAVIOUR_PREFIX)
        if pd.api.types.is_bool_dtype(values):
            continue
        if not pd.api.types.is_numeric_dtype(values):
            if column not in float_columns and not behaviour:
                continue
            numbers = pd.to_numeric(values, errors="coerce")
            if behaviour:
                bad = numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")
                if bad.any():
                    problems.append(_rows_problem(table, column, "behaviour feature must be numeric", bad,
                                                  values, max_rows))
            values = numbers
        inf = pd.Series(np.isinf(values.to_numpy(dtype=float, na_value=np.nan)), index=values.index)
        if inf.any():
            problems.append(_rows_problem(table, column, "infinite value (models need finite numbers)", inf,
                                          values, max_rows))
    return problems


def _rows_problem(table: str, column: str, message: str, bad: pd.Series, values: pd.Series,
                  max_rows: int) -> Problem:
    rows = bad.to_numpy().nonzero()[0]
    return Problem(table, message, column=str(column), rows=tuple(rows[:max_rows].tolist()), n_rows=len(rows),
                   values=tuple(dict.fromkeys(_short(v) for v in values.iloc[rows[:5]])))


def _problems_from_failures(table: str, fc: pd.DataFrame, max_rows: int) -> list[Problem]:
    fc = fc.copy()
    fc["check"] = fc["check"].astype(str)
    uncoercible = set(fc.loc[fc["check"].str.startswith("coerce_dtype"), "column"])
    problems: list[Problem] = []
    for (column, check), part in fc.groupby(["column", "check"], dropna=False, sort=False):
        if check == "column_in_dataframe":
            for missing in part["failure_case"]:
                problems.append(Problem(table, "required column is missing", column=str(missing)))
            continue
        # A column that could not be coerced makes pandera also report the dtype mismatch and
        # TypeErrors for every value check; the coercion failure alone says what is wrong.
        if column in uncoercible and not check.startswith("coerce_dtype"):
            continue
        idx = pd.to_numeric(part["index"], errors="coerce").dropna().astype(int).sort_values()
        values = tuple(dict.fromkeys(_short(v) for v in part["failure_case"]))[:5]
        problems.append(
            Problem(
                table,
                _plain(check),
                column=None if pd.isna(column) else str(column),
                rows=tuple(idx.iloc[:max_rows].tolist()),
                n_rows=len(idx),
                values=values if check not in ("not_nullable",) else (),
            )
        )
    return problems


def _short(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
