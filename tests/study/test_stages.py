"""The stage driver: stages share rounds of units, a waiting stage yields nothing, results go back in order."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from culturecart.study.scheduling import drive
from culturecart.study.store import Unit, UnitStore


def _double(x: int) -> int:
    return 2 * x


def test_stages_share_rounds_and_a_waiting_stage_sees_the_other_publish(tmp_path):
    published: dict[str, int] = {}
    rounds: list[list[str]] = []

    class Recording(UnitStore):
        def run(self, units, progress=None, label=None):
            rounds.append([u.name for u in units])
            return super().run(units, progress, label)

    def first():
        a, b = yield [Unit("s1", "a", 1, _double, (1,)), Unit("s1", "b", 2, _double, (2,))]
        published["first"] = a + b
        [c] = yield [Unit("s1", "c", 3, _double, (a + b,))]
        return pd.DataFrame({"value": [c]})

    def waiting():
        yield []  # the first stage publishes after its first round
        [d] = yield [Unit("s2", "d", 4, _double, (published["first"],), cost=9.0)]
        return pd.DataFrame({"value": [d]})

    store = Recording(tmp_path / "units", n_jobs=2, backend="loky")
    out = drive([first(), waiting()], store, say=None)
    assert [t["value"].tolist() for t in out] == [[12], [12]]
    assert rounds == [["a", "b"], ["c", "d"]]  # one batch per round, across stages
    assert [u["name"] for u in store.log if u["name"] in ("c", "d")] and all(u["seconds"] >= 0 for u in store.log)


def test_costliest_units_start_first_and_each_is_stored_when_it_finishes(tmp_path):

    store = UnitStore(tmp_path, n_jobs=1)
    stored_before_next = []

    def check(x):
        stored_before_next.append(len([f for f in tmp_path.glob("*.json")]))
        return x

    units = [Unit("t", name, name, check, ({"x": name},), cost=c) for name, c in (("cheap", 1.0), ("dear", 5.0))]
    assert [r["x"] for r in store.run(units)] == ["cheap", "dear"]  # task order kept
    assert [u["name"] for u in store.log] == ["dear", "cheap"]  # ran costliest first
    assert stored_before_next == [0, 1]  # the first result was on disk before the second unit ran


def test_n_jobs_zero_is_refused():
    from culturecart.study.config import load_config

    with pytest.raises(Exception, match="-1"):
        load_config(preset="twin-small", overrides=["parallel.n_jobs=0"])
    assert json.dumps(load_config(preset="twin").parallel.n_jobs) == "-1"


def test_a_shared_unit_asked_twice_in_a_batch_is_computed_once(tmp_path):
    messages = []
    store = UnitStore(tmp_path, n_jobs=1)
    units = [Unit("s1", "fit", {"x": 3}, _double, (3,), shared="fit"),
             Unit("s2", "same fit", {"x": 3}, _double, (3,), shared="fit"),
             Unit("s2", "other", {"x": 4}, _double, (4,), shared="fit")]
    assert store.run(units, messages.append) == [6, 6, 8]
    assert store.computed == 2 and store.reused == 0
    assert messages == ["s1: 2 unit(s) to compute, 0 reused, 1 asked twice (computed once)"]


def test_a_damaged_stored_result_is_computed_again_with_a_warning(tmp_path):
    store = UnitStore(tmp_path)
    units = [Unit("demo", "table", {"n": 3}, pd.DataFrame, ({"x": [1, 2, 3]},)),
             Unit("demo", "dict", {"n": 1}, dict, ({"a": 1},)),
             Unit("demo", "array", {"n": 2}, np.arange, (4,))]
    first = store.run(units)
    for unit, suffix in zip(units, (".parquet", ".json", ".npy"), strict=True):
        (tmp_path / (unit.key + suffix)).write_bytes(b"\x00damaged")
    again = UnitStore(tmp_path)
    with pytest.warns(UserWarning, match="is damaged"):
        values = again.run(units)
    assert again.computed == 3 and again.reused == 0
    pd.testing.assert_frame_equal(values[0], first[0])
    assert values[1] == first[1] and np.array_equal(values[2], first[2])
    healed = UnitStore(tmp_path)  # the recomputed results replaced the damaged files
    healed.run(units)
    assert healed.reused == 3 and healed.computed == 0


def test_a_fit_unit_binned_on_a_pool_is_its_own_unit(sim_features, sim_split):
    from culturecart.study.units import fit_and_score, fit_unit

    profiles = pd.DataFrame({"idv": [0.5]}, index=["DE"])
    pool, valid, test = np.sort(sim_split.train), np.sort(sim_split.valid), np.sort(sim_split.test)
    options = {"n_estimators": 30, "learning_rate": 0.1}

    def unit(train, bins_from):
        return fit_unit("rq5", "x", "global", "lightgbm", sim_features, train, valid, test, profiles, 0, options,
                        {"data": "d"}, 1.0, pool=bins_from)

    plain = unit(pool, None)
    assert unit(pool, pool).key == plain.key  # all of its pool: the same fit, shared with the unit without one
    half = unit(pool[::2], pool)
    assert half.payload["bins_from"] and half.key != unit(pool[::2], None).key
    with pytest.raises(ValueError, match="within the pool"):
        unit(np.sort(sim_split.test), pool)
    scored = fit_and_score(*half.args)
    assert scored.value.shape == (len(test),) and np.isfinite(scored.value).all()
