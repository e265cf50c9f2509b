"""The fitted featurizer: unseen levels, stored history, array round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd

from culturecart.data import Dataset
from culturecart.models.featurizer import Featurizer


def _ds(categories, users=("u1", "u2"), sessions=("s1", "s2"), times=("2026-01-01", "2026-01-02"), bought=(1, 0)):
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(len(categories))], "category": list(categories),
                          "price": np.arange(1.0, len(categories) + 1)})
    events = pd.DataFrame({"session_id": list(sessions), "user_id": list(users), "item_id": ["i0", "i1"],
                           "timestamp": pd.to_datetime(list(times)), "purchased": list(bought)})
    return Dataset(items=items, events=events)


def test_unseen_category_is_the_unseen_level_not_missing():
    f = Featurizer().fit(_ds(["shoes", "bags"]))
    data = f.transform(_ds(["hats", "bags"]))
    block = data.blocks["offer"]
    assert data.names["offer"] == ["category=bags", "category=shoes", "log1p_price"]
    assert block[0, :2].tolist() == [0.0, 0.0] and block[1, :2].tolist() == [1.0, 0.0]
    assert data.unseen == {"category": 1}
    assert f.transform(_ds(["shoes", "bags"])).unseen == {}  # counted per call: the featurizer keeps nothing


def test_history_combines_the_stored_sessions_with_the_scoring_data():
    f = Featurizer().fit(_ds(["a", "b"], users=("u1", "u1"), bought=(1, 1)))
    later = _ds(["a", "b"], users=("u1", "u1"), sessions=("s3", "s4"), times=("2026-02-01", "2026-02-02"),
                bought=(0, 0))
    data = f.transform(later)
    names = data.names["behaviour"]
    prior = data.blocks["behaviour"][:, names.index("user_prior_purchases")]
    sessions = data.blocks["behaviour"][:, names.index("user_prior_sessions")]
    assert prior.tolist() == [2.0, 2.0] and sessions.tolist() == [2.0, 3.0]
    again = f.transform(_ds(["a", "b"], users=("u1", "u1"), bought=(1, 1)))  # the fit data itself: counted once
    assert again.blocks["behaviour"][:, names.index("user_prior_sessions")].tolist() == [0.0, 1.0]


def test_state_round_trips_through_arrays():
    ds = _ds(["shoes", "bags"])
    f = Featurizer().fit(ds)
    arrays = f.to_arrays()
    assert all(a.dtype != object for a in arrays.values())
    back = Featurizer.from_arrays(arrays)
    a, b = f.transform(ds), back.transform(ds)
    assert a.names == b.names
    for m in a.blocks:
        np.testing.assert_array_equal(a.blocks[m], b.blocks[m])
