"""One flat table into the canonical tables: roles, sessions, refusals that name the column and ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from culturecart.data.dataset import Dataset
from culturecart.data.frame import SESSION_GAP
from culturecart.data.validate import require_valid
from culturecart.errors import InvalidInputError, UsageError
from culturecart.testing import flat_table

ROLES = {"label": "bought", "user": "customer", "item": "sku", "country": "nation", "consumer": ["age"],
         "offer": ["price", "discount", "category"], "text": ["title"], "time": "when", "behaviour": ["dwell"]}


@pytest.fixture(scope="module")
def flat():
    return flat_table(n_users=60)


def test_a_flat_export_of_the_simulated_marketplace_splits_into_valid_tables(flat):
    ds = Dataset.from_frame(flat, **ROLES)
    require_valid(ds)
    assert len(ds.events) == len(flat) and ds.users["user_id"].is_unique and ds.items["item_id"].is_unique
    assert set(ds.users["country"]) <= {"KR", "US", "DE"}
    assert ds.events["purchased"].tolist() == flat["bought"].astype(int).tolist()
    assert {"price", "discount", "category", "title"} <= set(ds.items.columns) and "dwell" in ds.events
    assert ds.meta["unplaced_columns"] == []


def test_sessions_split_a_users_events_where_30_minutes_pass_without_one(flat):
    ds = Dataset.from_frame(flat, **ROLES)
    t = pd.to_datetime(flat["when"])
    expected = 0
    for _, times in t.groupby(flat["customer"]):
        gaps = np.diff(np.sort(times.to_numpy()))
        expected += 1 + int((gaps > SESSION_GAP.to_timedelta64()).sum())
    assert ds.events["session_id"].nunique() == expected
    no_time = Dataset.from_frame(flat, **{k: v for k, v in ROLES.items() if k != "time"})
    assert no_time.events["session_id"].nunique() == flat["customer"].nunique()  # one session per user
    with pytest.raises(UsageError, match="no session column and no user column"):
        Dataset.from_frame(flat, label="bought", item="sku")


def test_an_attribute_that_varies_within_its_id_is_refused_not_reduced_to_its_first_value(flat):
    changed = flat.copy()
    first = changed.index[changed["sku"] == changed["sku"].iloc[0]]
    changed.loc[first[-1], "price"] = changed.loc[first[-1], "price"] + 1.0
    with pytest.raises(InvalidInputError, match=r"column 'price' \(item attribute\).*sku"):
        Dataset.from_frame(changed, **ROLES)
    kept = Dataset.from_frame(changed, **{**ROLES, "offer": ["discount", "category"], "behaviour": ["dwell", "price"]})
    assert kept.events["price"].tolist() == changed["price"].tolist()  # per event, as given
    moved = flat.copy()
    moved.loc[moved["customer"] == moved["customer"].iloc[0], "nation"] = ["KR", "US"] * int(
        (moved["customer"] == moved["customer"].iloc[0]).sum() / 2) + ["KR"] * int(
        (moved["customer"] == moved["customer"].iloc[0]).sum() % 2)
    with pytest.raises(InvalidInputError, match="nation"):
        Dataset.from_frame(moved, **ROLES)


def test_unplaced_columns_are_reported_and_labels_and_countries_read_as_people_write_them(flat):
    words = flat.assign(bought=np.where(flat["bought"], "yes", "no"), nation=flat["nation"].map(
        {"KR": "Korea, Republic of", "US": "United States", "DE": "Germany"}))
    with pytest.warns(UserWarning, match="given no role are not used: age, discount, category"):
        ds = Dataset.from_frame(words, label="bought", user="customer", item="sku", country="nation",
                                offer=["price"])
    assert ds.events["purchased"].sum() == flat["bought"].sum()
    assert set(ds.users["country"]) == {"KR", "US", "DE"}
    bad = flat.assign(bought=flat["bought"].astype(int).astype(object))
    bad.loc[3, "bought"] = "maybe"
    with pytest.raises(InvalidInputError, match=r"rows \[3\]"):
        Dataset.from_frame(bad, **ROLES)
    with pytest.raises(UsageError, match="not in the table"):
        Dataset.from_frame(flat, **{**ROLES, "offer": ["colour"]})
    with pytest.raises(UsageError, match="two roles"):
        Dataset.from_frame(flat, **{**ROLES, "behaviour": ["price"]})


def test_independent_rows_with_their_own_texts_become_per_event_reviews():
    df = pd.DataFrame({"rec": [1, 0, 1, 1, 0, 0], "product": ["a", "a", "b", "b", "c", "c"],
                       "review": ["lovely", "too small", "perfekt", "素晴らしい", "bof", None], "age": [30, 41, 25, 60, 33, 19]})
    ds = Dataset.from_frame(df, label="rec", item="product", session="@row", consumer=["age"], text=["review"])
    require_valid(ds)
    assert ds.meta["review_scope"] == "event" and ds.events["session_id"].is_unique
    assert ds.reviews.set_index("review_id").loc["r3", "text"] == "素晴らしい" and len(ds.reviews) == 5
    with pytest.raises(InvalidInputError, match="vary within an item"):
        Dataset.from_frame(df.assign(user=["u1", "u1", "u2", "u2", "u3", "u3"]), label="rec", item="product",
                           user="user", text=["review"])
