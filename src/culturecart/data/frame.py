"""One flat table (a pandas DataFrame, a CSV) into the canonical tables, by naming what each column is
(:meth:`Dataset.from_frame <culturecart.data.dataset.Dataset.from_frame>`, ``culturecart convert table``).

A flat table has one row per shown offer (an impression, a page view, an order line): the label, the user, the
item, and columns that describe the user (``consumer``, ``country``), the item (``offer``, ``text``, ``images``)
or the event (``behaviour``, ``time``). :func:`split_frame` places each into its table:

==============  ======================================================================================
role            goes to
==============  ======================================================================================
``label``       ``events.purchased`` (0/1; booleans and yes/no, true/false words are read as such)
``item``        ``items.item_id`` and ``events.item_id`` (required)
``user``        ``users.user_id`` and ``events.user_id``
``session``     ``events.session_id``; absent: derived (see below)
``time``        ``events.timestamp`` (anything pandas parses as a date and time)
``country``     ``users.country``, one per user (ISO 3166 alpha-2 codes, or names: "United Kingdom" -> GB)
``consumer``    ``users``: attributes of the user (age, gender, segment...), one value per user
``offer``       ``items``: attributes of the offer (price, discount_rate, category, brand...), one value per item
``text``        ``items.title`` (several columns are joined) when one text per item; a text that varies
                within an item is the event's own review (``reviews``, one row per session)
``images``      ``items.image_path`` (one column: a path per item, relative to the dataset folder)
``behaviour``   ``events``: what happened in the event (clicks, dwell time, position...), per row
==============  ======================================================================================

A user or item attribute must have one value per user or item: one that varies (a price that changed over time)
is refused with the ids and values that differ, never silently reduced to its first value; pass it as
``behaviour`` to keep it per event. A column given no role is reported in a warning and in ``meta`` (never
dropped silently).

**Sessions**, when no ``session`` column is given: with ``user`` and ``time``, a user's events form one session
until 30 minutes pass without an event (the web-analytics convention); with ``user`` alone, each user's events
form one session; with neither, the table cannot be grouped and the split asks for one of them. A table of
independent rows (reviews by anonymous buyers) says so with ``session="@row"``: each row its own session.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"bought": [1, 0, 0, 1], "customer": ["u1", "u1", "u2", "u2"],
    ...                    "sku": ["a", "b", "a", "c"], "nation": ["DE", "DE", "FR", "FR"],
    ...                    "price": [9.5, 20.0, 9.5, 5.0], "dwell": [30.0, 4.0, 12.0, 50.0]})
    >>> tables = split_frame(df, label="bought", user="customer", item="sku", country="nation", offer=["price"],
    ...                      behaviour=["dwell"])
    >>> tables["events"]["session_id"].nunique(), tables["users"].set_index("user_id")["country"].to_dict()
    (2, {'u1': 'DE', 'u2': 'FR'})
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from culturecart.data.countries import to_iso2
from culturecart.errors import InvalidInputError, UsageError

SESSION_GAP = pd.Timedelta(minutes=30)
TRUE_WORDS = {"1", "true", "yes", "y", "t", "bought", "purchased"}
FALSE_WORDS = {"0", "false", "no", "n", "f"}
ROW_SESSIONS = "@row"  # session="@row": each row is its own session (a table of independent rows)
RESERVED = {"purchased", "session_id", "user_id", "item_id", "timestamp", "country", "title", "image_path"}
MAX_SHOWN = 5


class Roles(BaseModel):
    """Which column of a flat table plays which role (see :mod:`culturecart.data.frame`)."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(None, description="the 0/1 purchase label (optional when only scoring)")
    item: str = Field(..., description="the item (offer) id")
    user: str | None = Field(None, description="the user id")
    session: str | None = Field(None, description="the session id (derived when absent)")
    time: str | None = Field(None, description="the event time")
    country: str | None = Field(None, description="the user's country, ISO 3166 alpha-2")
    consumer: list[str] = Field(default_factory=list, description="user attributes (one value per user)")
    offer: list[str] = Field(default_factory=list, description="item attributes (one value per item)")
    text: list[str] = Field(default_factory=list, description="item texts (joined into the title)")
    images: list[str] = Field(default_factory=list, description="the item image path column (at most one)")
    behaviour: list[str] = Field(default_factory=list, description="per-event columns")

    @model_validator(mode="after")
    def _distinct(self) -> Roles:
        seen: dict[str, str] = {}
        for role, cols in self.columns().items():
            for col in cols:
                if col in seen:
                    raise ValueError(f"column {col!r} is given two roles: {seen[col]} and {role}")
                seen[col] = role
        if len(self.images) > 1:
            raise ValueError(f"images takes one column (a path per item), got {self.images}")
        return self

    def columns(self) -> dict[str, list[str]]:
        """Role -> the columns it names."""
        single = {k: [v] for k in ("label", "item", "user", "session", "time", "country")
                  if (v := getattr(self, k)) is not None}
        lists = {k: list(getattr(self, k)) for k in ("consumer", "offer", "text", "images", "behaviour")
                 if getattr(self, k)}
        return single | lists


def make_roles(**roles) -> Roles:
    """:class:`Roles` from keyword arguments; a :class:`~culturecart.errors.UsageError` in plain words otherwise."""
    from pydantic import ValidationError

    try:
        return Roles(**roles)
    except ValidationError as err:
        raise UsageError("column roles: " + "; ".join(
            f"{'.'.join(map(str, e['loc'])) + ': ' if e['loc'] else ''}{e['msg'].removeprefix('Value error, ')}"
            for e in err.errors())) from None


def _labels(values: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("int64")
    words = values.astype(str).str.strip().str.lower()
    out = pd.Series(np.where(words.isin(TRUE_WORDS), 1, np.where(words.isin(FALSE_WORDS), 0, -1)), index=values.index)
    numeric = pd.to_numeric(values, errors="coerce")
    out[numeric.isin([0, 1])] = numeric[numeric.isin([0, 1])].astype(int)
    bad = out < 0
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:MAX_SHOWN].tolist()
        raise InvalidInputError(f"label column {column!r}: rows {rows} are not 0/1, true/false or yes/no "
                                f"(values {values.iloc[rows].astype(str).tolist()})")
    return out.astype("int64")


def _one_per(df: pd.DataFrame, key: str, columns: Sequence[str], role: str) -> pd.DataFrame:
    """One row per ``key`` with ``columns``; refused where a column varies within a key."""
    if not columns:
        return df[[key]].drop_duplicates(key)
    varies = df.groupby(key, sort=False)[list(columns)].nunique(dropna=False) > 1
    for col in columns:
        if varies[col].any():
            ids = varies.index[varies[col]][:3].tolist()
            example = df[df[key] == ids[0]][col].drop_duplicates().head(3).astype(str).tolist()
            raise InvalidInputError(
                f"column {col!r} ({role}) has more than one value for {int(varies[col].sum()):,} {key} value(s), "
                f"e.g. {key} {ids[0]!r}: {example}; an {role} column needs one value per {key}. Pass it as "
                "behaviour to keep it per event, or make it constant per id first")
    return df[[key, *columns]].drop_duplicates(key)


def _sessions(df: pd.DataFrame, user: str | None, time: str | None) -> tuple[pd.Series, str]:
    if user is None:
        raise UsageError("the table has no session column and no user column: name one (session=... or user=...) "
                         "so that events can be grouped into sessions")
    users = df[user].astype(str)
    if time is None:
        return "u:" + users, "one session per user (no session or time column)"
    order = np.lexsort((df[time].to_numpy(), users.to_numpy()))
    sorted_users, sorted_time = users.to_numpy()[order], df[time].to_numpy()[order]
    new = np.ones(len(df), bool)
    new[1:] = (sorted_users[1:] != sorted_users[:-1]) | \
        (pd.to_timedelta(sorted_time[1:] - sorted_time[:-1]) > SESSION_GAP)
    number = np.empty(len(df), np.int64)
    number[order] = np.cumsum(new)
    return pd.Series([f"s{n}" for n in number], index=df.index), \
        "a user's events split where 30 minutes pass without one (no session column)"


def split_frame(df: pd.DataFrame, *, label: str | None = None, item: str, user: str | None = None,
                session: str | None = None, time: str | None = None, country: str | None = None,
                consumer: Sequence[str] = (), offer: Sequence[str] = (), text: Sequence[str] = (),
                images: Sequence[str] = (), behaviour: Sequence[str] = (), name: str = "table") -> dict:
    """The canonical tables of one flat table (see the module docstring), as the keyword arguments of
    :class:`~culturecart.data.dataset.Dataset` (``users``, ``items``, ``events``, ``meta``); what
    :meth:`Dataset.from_frame <culturecart.data.dataset.Dataset.from_frame>` builds its dataset from."""
    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"from_frame takes a pandas DataFrame, not {type(df).__name__}")
    roles = make_roles(label=label, item=item, user=user, session=session, time=time, country=country,
                       consumer=list(consumer), offer=list(offer), text=list(text), images=list(images),
                       behaviour=list(behaviour))
    named = roles.columns()
    if session == ROW_SESSIONS:
        named.pop("session")
    missing = [c for cols in named.values() for c in cols if c not in df.columns]
    if missing:
        raise UsageError(f"column(s) {missing} are not in the table; it has {[str(c) for c in df.columns]}")
    clash = [c for c in roles.behaviour if c in RESERVED]
    if clash:
        raise UsageError(f"behaviour column(s) {clash} share a name with a canonical column: rename them first")
    df = df.reset_index(drop=True)
    if df.empty:
        raise InvalidInputError("the table has no rows")
    df = df.assign(**{item: df[item].astype(str)})
    if user is not None:
        df = df.assign(**{user: df[user].astype(str)})
    notes = []
    if time is not None:
        parsed = pd.to_datetime(df[time], errors="coerce", utc=False)
        bad = parsed.isna() & df[time].notna()
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())[:MAX_SHOWN].tolist()
            raise InvalidInputError(f"time column {time!r}: rows {rows} are not dates "
                                    f"({df[time].iloc[rows].astype(str).tolist()})")
        df = df.assign(**{time: parsed})
    events = pd.DataFrame({"item_id": df[item]})
    if session == ROW_SESSIONS:
        events["session_id"] = [f"r{i}" for i in range(len(df))]
        notes.append("sessions: each row its own session (session='@row')")
        if user is None:  # anonymous rows: each its own user too
            user = "__row_user__"
            df = df.assign(**{user: events["session_id"].to_numpy()})
    elif session is not None:
        events["session_id"] = df[session].astype(str)
    else:
        events["session_id"], rule = _sessions(df, user, time)
        notes.append(f"sessions: {rule}")
    if label is not None:
        events["purchased"] = _labels(df[label], label)
    if user is not None:
        events["user_id"] = df[user]
    if time is not None:
        events["timestamp"] = df[time]
    for col in roles.behaviour:
        events[col] = df[col].to_numpy()
    users = None
    if user is not None and (country is not None or roles.consumer):
        users = _one_per(df, user, [c for c in (country, *roles.consumer) if c is not None], "user attribute")
        users = users.rename(columns={user: "user_id", **({country: "country"} if country else {})})
        if country is not None:  # names too: "United Kingdom" -> GB; what no code fits stays, for validation to name
            users["country"] = [to_iso2(v) or (None if pd.isna(v) else str(v)) for v in users["country"]]
        else:
            users["country"] = None  # the canonical users table has the column; unknown here
    elif country is not None or roles.consumer:
        raise UsageError("country and consumer columns describe users: name the user column too (user=...)")
    per_item_text = [c for c in roles.text if not _varies(df, item, c)]
    per_event_text = [c for c in roles.text if c not in per_item_text]
    reviews = None
    if per_event_text:
        if session != ROW_SESSIONS:
            raise InvalidInputError(
                f"text column(s) {per_event_text} vary within an item: a text of its own per event (a review) needs "
                "one row per session (session='@row', --session @row), or make the text one per item")
        reviews = pd.DataFrame({"review_id": events["session_id"], "item_id": df[item], "text": _joined(
            df[per_event_text])}).dropna(subset=["text"])
        if user is not None:
            reviews["user_id"] = df[user].loc[reviews.index]
        notes.append(f"text {per_event_text}: each row's own review (reviews table, per event)")
    items = _one_per(df, item, [*roles.offer, *per_item_text, *roles.images], "item attribute")
    items = items.rename(columns={item: "item_id"})
    if per_item_text:
        items["title"] = _joined(items[per_item_text])
        items = items.drop(columns=[c for c in per_item_text if c != "title"])
    if roles.images:
        items = items.rename(columns={roles.images[0]: "image_path"})
    placed = {c for cols in named.values() for c in cols} | {"__row_user__"}
    unplaced = [str(c) for c in df.columns if c not in placed]
    if unplaced:
        shown = ", ".join(unplaced[:8]) + (f" (+{len(unplaced) - 8} more)" if len(unplaced) > 8 else "")
        warnings.warn(f"{len(unplaced)} column(s) given no role are not used: {shown} (name them as consumer, "
                      "offer, text, images or behaviour to use them)", UserWarning, stacklevel=2)
    meta = {"name": name, "source": "a flat table (Dataset.from_frame / convert table)", "roles": roles.model_dump(),
            "unplaced_columns": unplaced, "notes": notes}
    if reviews is not None:
        meta["review_scope"] = "event"
    return {"users": users, "items": items, "events": events, "reviews": reviews, "meta": meta}


def _varies(df: pd.DataFrame, key: str, column: str) -> bool:
    return bool((df.groupby(key, sort=False)[column].nunique(dropna=False) > 1).any())


def _joined(frame: pd.DataFrame) -> pd.Series:
    """The text columns of ``frame`` joined with ". " (missing parts left out); missing where all are."""
    parts = frame.astype("string")
    joined = parts.apply(lambda row: ". ".join(v.strip() for v in row if isinstance(v, str) and v.strip()), axis=1)
    return joined.replace("", pd.NA).astype(object).where(joined != "", None)
