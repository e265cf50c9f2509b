from __future__ import annotations

import numpy as np
import pytest

from culturecart.evaluate.grid import all_subsets, run_grid
from culturecart.evaluate.splits import make_split


def test_splits_do_not_leak(sim_features):
    for by in ("user", "session", "item"):
        s = make_split(sim_features, by=by, seed=1)
        ids = sim_features.meta[f"{by}_id"].to_numpy()
        assert not set(ids[s.train]) & set(ids[s.test]) and not set(ids[s.valid]) & set(ids[s.test])
        assert len(s.train) + len(s.valid) + len(s.test) == sim_features.n
    t = make_split(sim_features, by="time")
    ts = sim_features.meta["timestamp"].to_numpy()
    assert ts[t.train].max() <= ts[t.test].min()
    with pytest.raises(ValueError, match="user"):
        make_split(sim_features, by="country")


def test_grid_table_has_cis_and_paired_tests(sim_features, sim_split):
    data = sim_features.select(["offer", "behaviour", "text"])
    grid = run_grid(data, sim_split, models=("logistic", "offer_only"), subsets=[("offer",), ("offer", "behaviour", "text")],
                    n_boot=50, metrics=("roc_auc", "ndcg@10"))
    t = grid.table
    auc = t[t["metric"] == "roc_auc"]
    assert set(auc["model"]) == {"logistic", "offer_only"}
    assert (auc["ci_low"] <= auc["value"]).all() and (auc["value"] <= auc["ci_high"]).all()
    lift = t[t["metric"] == "auc_lift_vs_best_unimodal"]
    assert len(lift) == 2 and lift["p_value"].between(0, 1).all() and lift["test"].str.startswith("DeLong").all()
    full = grid.auc("logistic", ("offer", "behaviour", "text"))
    assert full > grid.auc("logistic", ("offer",))
    assert len(all_subsets(["a", "b", "c"])) == 7
    assert np.isfinite(t["value"]).all()
