import numpy as np
import pandas as pd
import pytest

from culturecart.culture import learning_curves, rows_needed

FAST = {"learning_rate": 0.1, "early_stopping_rounds": 20, "n_estimators": 150}


def test_rows_needed_interpolates_and_reports_unreached():
    assert rows_needed(np.array([100, 200, 400]), np.array([0.6, 0.7, 0.8]), 0.75) == pytest.approx(300)
    assert rows_needed(np.array([100, 200]), np.array([0.6, 0.7]), 0.55) == pytest.approx(50)  # from (0, 0.5)
    assert rows_needed(np.array([100, 200]), np.array([0.6, 0.7]), 0.9) == float("inf")
    assert rows_needed(np.array([100, 200]), np.array([0.7, 0.65]), 0.68) < 100  # running maximum


def test_learning_curves_shape_zero_shot_and_determinism(sim_features, sim_split):
    kwargs = dict(fractions=(0.0, 0.5, 1.0), seeds=(0, 1), **FAST)
    a = learning_curves(sim_features, sim_split, ["DE"], **kwargs)
    runs = a.runs
    assert not ((runs["arm"] == "local") & (runs["fraction"] == 0)).any()
    zero = runs[runs["fraction"] == 0]
    assert set(zero["arm"]) == {"global", "culture"} and (zero["n_target_rows"] == 0).all()
    assert zero["roc_auc"].notna().all()
    full = runs[(runs["fraction"] == 1) & (runs["arm"] == "local")]
    assert full["n_target_rows"].nunique() == 1  # every seed uses all target users
    s = a.summary
    assert {"value", "ci_low", "ci_high", "n_seeds"} <= set(s.columns)
    assert set(a.data_equivalent["arm"]) == {"global", "culture"}
    b = learning_curves(sim_features, sim_split, ["DE"], **kwargs)
    assert a.runs["roc_auc"].equals(b.runs["roc_auc"])


def test_parallel_learning_curves_equal_serial(sim_features, sim_split):
    kwargs = dict(fractions=(0.0, 1.0), seeds=(0,), arms=("global",), **FAST)
    serial = learning_curves(sim_features, sim_split, ["DE", "KR"], **kwargs)
    parallel = learning_curves(sim_features, sim_split, ["DE", "KR"], n_jobs=2, backend="loky", **kwargs)
    assert serial.runs.equals(parallel.runs)


def test_forec_sources_and_bad_targets(sim_features, sim_split):
    res = learning_curves(sim_features, sim_split, ["DE"], sources=["FR"], fractions=(0.0,), seeds=(0,),
                          arms=("global",), **FAST)
    country = sim_features.meta["country"].to_numpy()
    assert res.runs["n_source_rows"].iat[0] == int((country[sim_split.train] == "FR").sum())
    with pytest.raises(ValueError, match="no rows"):
        learning_curves(sim_features, sim_split, ["BR"])
    with pytest.raises(ValueError, match="arm"):
        learning_curves(sim_features, sim_split, ["DE"], arms=("magic",))


def test_pooled_arms_bin_on_the_sources_and_the_target(sim_features, sim_split):
    from culturecart.culture.scopes import pooled_rows
    from culturecart.culture.transfer import transfer_rows

    country = sim_features.meta["country"].to_numpy()
    half = transfer_rows(sim_features, sim_split, "DE", ["KR"], "global", 0.5, 0)
    assert set(country[half.pool]) == {"DE", "KR"} and np.isin(half.train, half.pool).all()
    assert len(half.pool) == int(np.isin(country[sim_split.train], ["DE", "KR"]).sum())
    fit_on, positions = pooled_rows(half.train, half.pool)
    assert np.array_equal(fit_on[positions], half.train)
    full = transfer_rows(sim_features, sim_split, "DE", ["KR"], "culture", 1.0, 0)
    fit_on, positions = pooled_rows(full.train, full.pool)
    assert positions is None and np.array_equal(fit_on, full.train)  # all of the pool: a plain fit
    assert transfer_rows(sim_features, sim_split, "DE", ["KR"], "local", 0.5, 0).pool is None
    with pytest.raises(ValueError, match="within the pool"):
        pooled_rows(np.array([2, 4]), np.array([1, 2, 3]))


def test_planned_runs_draw_the_users_a_draw_from_the_sorted_ids_gives(sim_features, sim_split):
    """plan_transfer reads the country and user columns once, as integer codes; each run still takes the users
    that a draw from the sorted user ids takes (the codes keep their order), with all their rows."""
    from culturecart.culture.transfer import plan_transfer, transfer_tasks

    tasks = transfer_tasks(sim_features, ["DE"], fractions=(0.5,), seeds=(0, 1), arms=("local", "global"))
    runs = plan_transfer(sim_features, sim_split, tasks)
    users = sim_features.meta["user_id"].astype(str).to_numpy()
    country = sim_features.meta["country"].astype(str).to_numpy()
    drawn = []
    for (target, _sources, arm, fraction, seed), run in zip(tasks, runs, strict=True):
        rng = np.random.default_rng([seed, int(round(fraction * 1000))])
        rows = sim_split.train[country[sim_split.train] == target]
        ids = np.unique(users[rows])
        keep = rng.choice(ids, int(round(fraction * len(ids))), replace=False)
        expected = rows[np.isin(users[rows], keep)]
        assert np.array_equal(run.train[country[run.train] == target], np.sort(expected))
        assert run.record["n_target_rows"] == len(expected) and run.record["arm"] == arm
        drawn.append(frozenset(keep.tolist()))
    assert drawn[0] == drawn[2] and drawn[0] != drawn[1]  # the arms share a seed's users; seeds differ


def test_planned_runs_do_not_depend_on_the_id_columns_dtype(sim_features, sim_split):
    """Categorical user and country columns (their categories in reverse order) plan the same rows as strings."""
    from dataclasses import replace

    from culturecart.culture.transfer import plan_transfer, transfer_tasks

    meta = sim_features.meta.copy()
    for col in ("user_id", "country"):
        meta[col] = meta[col].astype(pd.CategoricalDtype(sorted(meta[col].astype(str).unique(), reverse=True)))
    tasks = transfer_tasks(sim_features, ["DE"], fractions=(0.5,), seeds=(0,), arms=("local", "culture"))
    for plain, coded in zip(plan_transfer(sim_features, sim_split, tasks),
                            plan_transfer(replace(sim_features, meta=meta), sim_split, tasks), strict=True):
        assert np.array_equal(plain.train, coded.train) and np.array_equal(plain.test, coded.test)
        unscored = [{k: v for k, v in r.record.items() if k != "roc_auc"} for r in (plain, coded)]
        assert unscored[0] == unscored[1]
