from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from culturecart.data import Dataset
from culturecart.models.features import LEAKY_COLUMNS
from culturecart.models.featurizer import build_features
from culturecart.models.history import history_features


def test_modalities_and_no_leaky_columns(sim_features):
    assert sim_features.modalities == ["offer", "consumer", "behaviour", "text", "image"]
    names = [n for m in sim_features.modalities for n in sim_features.names[m]]
    assert not [n for n in names if n in LEAKY_COLUMNS or n.split("=")[0] in LEAKY_COLUMNS]
    assert "position" in sim_features.names["behaviour"]
    assert sim_features.blocks["text"].shape[1] == 32  # title + review means, 16 PCA components each
    assert all(b.dtype == np.float32 and len(b) == sim_features.n for b in sim_features.blocks.values())


def test_embeddings_are_stored_once_per_item(sim_features):
    items = sim_features.meta["item_id"].to_numpy()
    for m in ("text", "image"):
        block = sim_features.blocks[m]
        assert block.table.shape[0] == len(set(items)) < sim_features.n
        # the same item has the same vector wherever it appears
        first = {}
        for row, item in zip(np.asarray(block)[:500], items[:500], strict=True):
            np.testing.assert_array_equal(first.setdefault(item, row), row)


def test_user_history_uses_only_earlier_sessions():
    events = pd.DataFrame({
        "session_id": ["a", "a", "b", "c", "d"], "user_id": ["u", "u", "u", "u", "v"],
        "timestamp": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-03", "2026-01-01"]),
        "purchased": [1, 1, 0, 1, 1],
    })
    h = history_features(events)
    assert h["user_prior_sessions"].tolist() == [0, 0, 1, 2, 0]
    assert h["user_prior_purchases"].tolist() == [0, 0, 2, 2, 0]
    assert np.isnan(h["user_prior_purchase_rate"].iat[0]) and h["user_prior_purchase_rate"].iat[3] == 1.0


def test_missing_image_masks_the_modality_row():
    from culturecart.encoders.encode import Embeddings

    ds = Dataset(items=pd.DataFrame({"item_id": ["a", "b"], "price": [1.0, 2.0]}),
                 events=pd.DataFrame({"session_id": ["s", "s"], "item_id": ["a", "b"], "purchased": [0, 1]}))
    emb = Embeddings(vectors=np.array([[1.0, 2.0], [np.nan, np.nan]], np.float32), mask=np.array([True, False]),
                     encoder="x")
    data = build_features(ds, {"items.image_path": emb}, embedding_dim=None)
    assert data.present["image"].tolist() == [True, False]
    assert np.isnan(data.blocks["image"][1]).all()
    with pytest.raises(KeyError, match="text"):
        data.select(["text"])


def test_unseen_category_goes_to_other():
    ds = Dataset(items=pd.DataFrame({"item_id": list("abcd"), "category": ["x", "y", "z", None]}),
                 events=pd.DataFrame({"session_id": list("abcd"), "item_id": list("abcd"), "purchased": [0, 1, 0, 1]}))
    data = build_features(ds, max_levels=2)
    assert data.names["offer"] == ["category=x", "category=y", "category=<other>"]
    np.testing.assert_array_equal(data.blocks["offer"][2], [0, 0, 1])
    assert np.isnan(data.blocks["offer"][3]).all()
