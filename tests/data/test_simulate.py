"""The simulated marketplace: deterministic, valid, consistent with truth.json, signal where planted."""

from __future__ import annotations

import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from culturecart.data import Dataset, SimulationConfig, simulate_marketplace, validate_dataset
from culturecart.data.hofstede import shipped_hofstede
from culturecart.data.simulate import country_sensitivities, load_rules
from culturecart.data.simulate.language import LANGUAGES, REVIEW_PHRASES


@pytest.fixture(scope="module")
def medium() -> Dataset:
    return simulate_marketplace(SimulationConfig(n_users=1500, n_products=400, seed=11))


def _digest(ds: Dataset) -> str:
    h = hashlib.sha256()
    for name in ds.tables():
        h.update(pd.util.hash_pandas_object(ds.table(name), index=False).to_numpy().tobytes())
    h.update(json.dumps(ds.extras, sort_keys=True).encode())
    for rel in sorted(ds.files):
        h.update(rel.encode() + ds.files[rel])
    return h.hexdigest()


def test_same_seed_same_dataset_different_seed_differs():
    cfg = SimulationConfig(n_users=60, n_products=30, seed=5)
    assert _digest(simulate_marketplace(cfg)) == _digest(simulate_marketplace(cfg))
    other = simulate_marketplace(cfg.model_copy(update={"seed": 6}))
    assert _digest(other) != _digest(simulate_marketplace(cfg))


def test_more_users_leave_the_catalogue_unchanged():
    a = simulate_marketplace(SimulationConfig(n_users=40, n_products=30, seed=2))
    b = simulate_marketplace(SimulationConfig(n_users=80, n_products=30, seed=2))
    pd.testing.assert_frame_equal(a.items, b.items)


def test_written_dataset_validates(sim_dir: Path):
    assert validate_dataset(sim_dir) == []
    truth = json.loads((sim_dir / "truth.json").read_text())
    assert set(truth["countries"]) == {"KR", "US", "GB", "DE", "JP", "FR", "ES", "ID"}


def test_sensitivity_formula_hand_computed():
    # DE rating: z = (score - 50) / 25 -> pdi -0.6, idv 0.68, mas 0.64, uai 0.6, ivr -0.4;
    # weights idv -.15, mas -.15, uai .15, ivr .15, pdi -.15 -> log multiplier -0.078.
    beta = country_sensitivities(load_rules(), shipped_hofstede().loc[["DE"]])
    assert beta.loc["DE", "rating"] == pytest.approx(0.35 * math.exp(-0.078), rel=1e-9)
    assert beta.loc["DE", "price"] == pytest.approx(-0.8)  # no cultural rule on price


def test_truth_matches_rules_and_data(medium: Dataset):
    truth = medium.extras["truth.json"]
    profiles = shipped_hofstede().loc[list(truth["countries"])]
    expected = country_sensitivities(load_rules(), profiles)
    for c, entry in truth["countries"].items():
        for k, v in entry["sensitivity"].items():
            assert v == pytest.approx(expected.loc[c, k])
    country = medium.events["user_id"].map(medium.users.set_index("user_id")["country"])
    observed = medium.events.groupby(country)["purchased"].mean()
    for c, entry in truth["countries"].items():
        assert entry["purchase_rate"] == pytest.approx(observed[c])
    assert truth["events"]["rows"] == len(medium.events)
    signal = truth["modality_signal_sd"]
    assert set(signal) == {"offer", "consumer", "behaviour", "text", "image"}
    # text and image signal = |planted coefficient| x SD of the standardised latent, averaged over countries
    assert signal["image"] == pytest.approx(np.mean([abs(c["sensitivity"]["image_appeal"])
                                                     for c in truth["countries"].values()]), rel=0.1)


def test_heterogeneity_scale_zero_makes_countries_alike():
    ds = simulate_marketplace(SimulationConfig(n_users=30, n_products=20, heterogeneity_scale=0.0))
    sens = pd.DataFrame({c: v["sensitivity"] for c, v in ds.extras["truth.json"]["countries"].items()}).T
    assert (sens.nunique() == 1).all()


def test_latents_are_not_in_any_column(medium: Dataset):
    latents = pd.DataFrame(medium.extras["truth.json"]["item_latents"]).set_index("item_id")
    assert not {"image_appeal", "review_quality", "quality"} & set(medium.items.columns)
    items = medium.items.set_index("item_id")
    numeric = items[["price", "discount_rate", "rating", "review_count"]].astype(float)
    numeric["free_shipping"] = items["free_shipping"].astype(float)
    numeric["brand_premium"] = items["brand_premium"].astype(float)
    corr = numeric.join(latents).corr().loc[numeric.columns, ["image_appeal", "review_quality"]]
    assert corr.abs().to_numpy().max() < 0.15, corr


def test_review_text_carries_quality(medium: Dataset):
    positive = {p for bank in REVIEW_PHRASES.values() for p in bank["pos"]}
    negative = {p for bank in REVIEW_PHRASES.values() for p in bank["neg"]}

    def tone(text: str) -> float:
        low = text.lower()
        return sum(p.lower() in low for p in positive) - sum(p.lower() in low for p in negative)

    reviews = medium.reviews.assign(tone=medium.reviews["text"].map(tone))
    per_item = reviews.groupby("item_id")["tone"].mean()
    latents = pd.DataFrame(medium.extras["truth.json"]["item_latents"]).set_index("item_id")
    assert per_item.corr(latents.loc[per_item.index, "review_quality"]) > 0.4


def test_images_carry_appeal(medium: Dataset):
    latents = medium.extras["truth.json"]["item_latents"]
    brightness = [np.asarray(Image.open(io.BytesIO(medium.files[f"images/{i}.png"])).convert("L")).mean()
                  for i in latents["item_id"][:300]]
    assert np.corrcoef(brightness, latents["image_appeal"][:300])[0, 1] > 0.5


def test_position_bias_and_funnel(medium: Dataset):
    ev = medium.events
    by_pos = ev.groupby("position")["clicked"].mean()
    assert by_pos.iloc[0] > 2 * by_pos.iloc[-1]
    assert (ev.loc[ev["purchased"] == 1, "clicked"] == 1).all()  # a purchase needs a click
    assert (ev.loc[ev["clicked"] == 0, "dwell_time_s"] == 0).all()
    assert 0.005 < ev["purchased"].mean() < 0.2


def test_multilingual_text(medium: Dataset):
    assert set(medium.reviews["language"]) == set(LANGUAGES)
    titles = " ".join(medium.items["title"])
    assert any("\uac00" <= ch <= "\ud7a3" for ch in titles)  # Hangul
    assert any("\u30a0" <= ch <= "\u30ff" for ch in titles)  # Katakana
    assert medium.reviews["image_path"].notna().mean() > 0.02  # some review photos


def test_matching_file_matches_groups(medium: Dataset):
    shopee = pd.read_csv(io.BytesIO(medium.files["matching/shopee.csv"]),
                         dtype={"posting_id": str, "label_group": str})
    assert list(shopee.columns) == ["posting_id", "image", "image_phash", "title", "label_group"]
    merged = shopee.merge(medium.groups, left_on="posting_id", right_on="item_id", suffixes=("", "_groups"))
    assert len(merged) == len(medium.items)
    assert (merged["label_group"] == merged["label_group_groups"]).all()
    assert shopee["image_phash"].str.fullmatch(r"[0-9a-f]{16}").all()
    sizes = shopee.groupby("label_group").size()
    assert (sizes >= 2).sum() > 50


def test_bad_rules_name_the_key(tmp_path: Path):
    bad = tmp_path / "rules.yaml"
    text = (Path(load_rules.__code__.co_filename).parent / "rules.yaml").read_text()
    bad.write_text(text.replace("hofstede: {lto: 0.2}", "hofstede: {ltx: 0.2}"))
    with pytest.raises(ValueError, match="ltx"):
        load_rules(bad)
    with pytest.raises(ValueError, match="XX"):
        SimulationConfig(countries=["US", "XX"])
