import warnings

import numpy as np
import pandas as pd
import pytest

from culturecart.culture import (
    SensitivityDesign,
    country_logit,
    pd_sensitivity,
    sensitivity_design,
    sensitivity_matrix,
)
from culturecart.data import Dataset
from culturecart.encoders.dataset import encode_dataset
from culturecart.models.registry import create_model
from tests.helpers import FAST_ENCODERS


def _synthetic(betas: dict[str, list[float]], n: int = 6000, seed: int = 0) -> SensitivityDesign:
    rng = np.random.default_rng(seed)
    countries = ["DE", "JP", "US"]
    c = rng.integers(0, 3, n)
    x = pd.DataFrame({f: rng.normal(size=n) for f in betas})
    eta = -0.5 + sum(np.asarray(b)[c] * x[f].to_numpy() for f, b in betas.items())
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    users = np.arange(n) // 3
    meta = pd.DataFrame({"country": np.array(countries)[c], "user_id": users.astype(str),
                         "session_id": np.arange(n).astype(str), "item_id": "i"})
    return SensitivityDesign(x, y, meta, {})


def test_country_logit_recovers_planted_coefficients_and_flags_heterogeneity():
    design = _synthetic({"discount": [0.2, 0.8, 0.5], "rating": [0.4, 0.4, 0.4]})
    res = country_logit(design)
    e = res.effects.set_index(["feature", "country"])
    planted = {("discount", "DE"): 0.2, ("discount", "JP"): 0.8, ("discount", "US"): 0.5,
               ("rating", "DE"): 0.4, ("rating", "JP"): 0.4, ("rating", "US"): 0.4}
    for key, beta in planted.items():
        assert e.loc[key, "ci_low"] < beta < e.loc[key, "ci_high"], key
    het = res.heterogeneity.set_index("feature")["p_value"]
    assert het["discount"] < 1e-6 and het["rating"] > 0.01
    # AME = coef x mean p(1-p) in the country, hand-computed from the fitted probabilities
    row = res.effects.iloc[0]
    assert row["ame"] / row["coef"] == pytest.approx(row["ame_ci_low"] / row["ci_low"])
    wide = sensitivity_matrix(res)
    assert list(wide.columns) == ["discount", "rating", "baseline_propensity"]


def test_small_or_one_label_countries_are_left_out_with_a_warning():
    design = _synthetic({"discount": [0.3, 0.3, 0.3]}, n=3000)
    design.meta.loc[:20, "country"] = "LU"
    with pytest.warns(UserWarning, match="LU"):
        res = country_logit(design)
    assert "LU" not in res.countries


def test_design_on_simulated_data(sim_dir, tmp_path):
    ds = Dataset.load(sim_dir)
    emb = encode_dataset(ds, FAST_ENCODERS.model_copy(update={"cache_dir": str(tmp_path)}), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = sensitivity_design(ds, emb)
    assert {"price", "discount_rate", "free_shipping", "brand_premium", "rating", "review_count",
            "image_index", "review_index"} <= set(design.x.columns)
    assert len(design.y) == int(ds.events["clicked"].sum())
    assert not design.x.isna().any().any()
    items = ds.items.drop_duplicates("item_id").set_index("item_id")
    rel = np.log(items["price"] / items.groupby("category")["price"].transform("median"))
    expected = (rel - rel.mean()) / rel.std(ddof=0)
    assert np.allclose(design.x["price"], expected.reindex(design.meta["item_id"]).to_numpy())
    with pytest.raises(KeyError, match="available"):
        sensitivity_design(ds, features=["colour"])
    with pytest.raises(ValueError, match="rows"):
        sensitivity_design(ds, rows="some")


def test_pd_slope_of_a_logistic_model_is_its_coefficient(sim_features, sim_split):
    train, test = sim_features.rows(sim_split.train), sim_features.rows(sim_split.test)
    model = create_model("logistic", modalities=["offer", "consumer"]).fit(train)
    table = pd_sensitivity(model, test, features=["discount_rate", "rating"], n_boot=20)
    names = model.pre_.output_names("offer")
    for feature, g in table.groupby("feature"):
        j = names.index(feature)
        per_raw_unit = model.coef_.ravel()[j] / model.pre_.stats["offer"].std[j]
        sd = np.nanstd(test.blocks["offer"][:, sim_features.names["offer"].index(feature)])
        assert np.allclose(g["pd_slope"], per_raw_unit * sd, rtol=1e-4)
    assert set(table["country"]) == set(test.meta["country"])
