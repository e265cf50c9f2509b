"""`culturecart study` on a markets folder: RQ3 scopes and RQ5 gains and curves for rankers, through the unit store."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from culturecart.errors import ConfigError
from culturecart.ranking.analysis import chance_ndcg, mantel_test
from culturecart.ranking.markets import read_markets
from culturecart.study.config import load_config
from culturecart.study.markets import fraction_view, rank_scope
from culturecart.study.run import TIDY_COLUMNS, run_study
from tests.helpers import invoke


def test_the_study_writes_rq3_and_rq5_in_the_tidy_table(market_study):
    results = pd.read_parquet(market_study.out / "results.parquet")
    assert list(results.columns) == TIDY_COLUMNS
    assert set(results["question"]) == {"RQ3", "RQ5"}
    t = market_study.tables["rq3_table"]
    nd = t[t["metric"] == "ndcg@10"]
    assert len(nd) == 3 * 3 and (nd["ci_low"] <= nd["value"]).all() and (nd["value"] <= nd["ci_high"]).all()
    assert t[t["metric"] == "ndcg@10 vs local"]["p_adjusted"].between(0, 1).all()
    local_cfs = t[(t["metric"] == "cultural_fit_score") & (t["scope"] == "local")]["value"]
    assert np.allclose(local_cfs, 1.0)
    gain = market_study.tables["rq5_gain"]
    assert len(gain) == 3 * 2 and gain["hofstede_distance"].notna().all()
    curves = market_study.tables["rq5_curves"]
    assert not ((curves["arm"] == "local") & (curves["fraction"] == 0)).any()  # nothing to learn from
    zero_shot = curves[(curves["arm"] == "global") & (curves["fraction"] == 0)]
    chance = chance_ndcg([31], 10)
    assert len(zero_shot) == 3 and (zero_shot["value"] > chance).all()  # the sources alone rank far above chance


def test_figures_are_the_per_user_means_of_the_fitted_ranker(market_study, markets_dir):
    markets = read_markets(markets_dir)
    per_user = rank_scope(markets, "fr", "global", None, "itemknn", {})
    test = per_user[per_user["run"] == "test"]
    t = market_study.tables["rq3_table"]
    row = t[(t["market"] == "fr") & (t["scope"] == "global") & (t["metric"] == "ndcg@10")].iloc[0]
    assert row["value"] == pytest.approx(test["ndcg@10"].mean(), abs=1e-12)
    local = rank_scope(markets, "fr", "local", None, "itemknn", {})
    local = local[local["run"] == "test"].set_index("userId")["ndcg@10"]
    gain = market_study.tables["rq5_gain"].set_index(["target", "source"])
    pair = rank_scope(markets, "fr", "pairwise", "de", "itemknn", {})
    pair = pair[pair["run"] == "test"].set_index("userId")["ndcg@10"]
    assert gain.loc[("fr", "de"), "gain"] == pytest.approx((pair - local.reindex(pair.index)).mean(), abs=1e-12)


def test_shared_fits_are_computed_once_and_a_rerun_reuses_everything(market_study, tmp_path):
    import shutil

    # RQ3's local and global scopes are RQ5's full-data points: the store holds each fit once.
    keys = [u["key"] for u in __import__("json").loads((market_study.out / "timings.json").read_text())]
    assert len(keys) == len(set(keys)) == market_study.units_computed
    out = tmp_path / "again"
    shutil.copytree(market_study.out, out)
    again = run_study(market_study.config, out, quiet=True)
    assert again.units_computed == 0 and again.units_reused > 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"),
                                  pd.read_parquet(market_study.out / "results.parquet"))


def test_the_report_says_what_ratings_cannot_answer(market_study):
    text = (market_study.out / "report.html").read_text("utf-8")
    # Only what ratings can answer gets a section; what they cannot is said once, at the end.
    for section in ("findings", "rq3", "rq5", "cannot"):
        assert f"<section id='{section}'>" in text
    for section in ("rq1", "rq2", "rq4"):
        assert f"<section id='{section}'>" not in text
    assert text.count("cannot answer") == 1 and text.index("id='cannot'") > text.index("id='rq5'")
    assert text.count("<img") >= 3


def test_fraction_view_draws_part_of_the_target_only(markets_dir):
    markets = read_markets(markets_dir)
    half = fraction_view(markets, "de", 0.5, seed=3)
    assert len(half["de"].train) == round(0.5 * len(markets["de"].train))
    assert half["fr"].train is markets["fr"].train and half["de"].runs is markets["de"].runs
    again = fraction_view(markets, "de", 0.5, seed=3)
    pd.testing.assert_frame_equal(half["de"].train, again["de"].train)
    assert not half["de"].train.equals(fraction_view(markets, "de", 0.5, seed=4)["de"].train)
    assert fraction_view(markets, "de", 1.0, seed=3) is markets


def test_mantel_test_matches_a_brute_force_permutation_count():
    names = ["a", "b", "c", "d"]
    rng = np.random.default_rng(0)
    gain = pd.DataFrame(rng.normal(size=(4, 4)), index=names, columns=names)
    pts = rng.normal(size=(4, 2))
    dist = pd.DataFrame([[np.linalg.norm(pts[i] - pts[j]) for j in range(4)] for i in range(4)], index=names,
                        columns=names)
    pairs = [(t, s) for t in names for s in names if t != s]
    g = [gain.loc[t, s] for t, s in pairs]
    r0 = pearsonr(g, [dist.loc[t, s] for t, s in pairs]).statistic
    count = 0
    for perm in itertools.permutations(names):
        m = dict(zip(names, perm, strict=True))
        r = pearsonr(g, [dist.loc[m[t], m[s]] for t, s in pairs]).statistic
        count += abs(r) >= abs(r0) - 1e-12
    out = mantel_test(gain, dist)
    assert out["r"] == pytest.approx(r0) and out["p"] == pytest.approx(count / 24) and out["permutations"] == 24


def test_bad_markets_input_is_refused_with_a_clear_message(markets_dir, tmp_path):
    invoke("study", "--set", f"data.markets={tmp_path / 'nowhere'}", "--out", tmp_path / "o1", exit_code=1,
           names=("nowhere", "does not exist"))
    sources_only = tmp_path / "src-only"
    (sources_only / "de").mkdir(parents=True)
    (sources_only / "de" / "train.tsv").write_text("userId\titemId\trating\nu1\ti1\t5\n", encoding="utf-8")
    invoke("study", "--set", f"data.markets={sources_only}", "--out", tmp_path / "o2", exit_code=1,
           names=("nothing to rank",))
    assert not (tmp_path / "o2").exists()
    with pytest.raises(ConfigError, match="exactly one of"):
        load_config(preset="twin", overrides=[f"data.markets={markets_dir}"])
    with pytest.raises(ConfigError, match="fractions"):
        load_config(overrides=[f"data.markets={markets_dir}", "ranking.fractions=[0.5,1.5]"])


def test_the_culture_scope_reads_the_profiles_it_is_given(markets_dir):
    from culturecart.data.hofstede import DIMENSIONS, with_extra_profiles
    from culturecart.ranking.crossmarket import scope_weights

    markets = read_markets(markets_dir)
    custom = with_extra_profiles(None)
    custom.loc["JP", list(DIMENSIONS)] = custom.loc["FR", list(DIMENSIONS)]  # a user's file making JP like FR
    shipped = scope_weights(markets, "fr", "culture", tau=0.2)
    theirs = scope_weights(markets, "fr", "culture", tau=0.2, profiles=custom)
    assert theirs["jp"] == pytest.approx(1.0) and shipped["jp"] < 0.5 and theirs["de"] == shipped["de"]
