"""The embedded default: a simulated multi-country marketplace in the canonical data model.

``simulate_marketplace`` returns a :class:`~culturecart.data.dataset.Dataset` whose ``truth.json``
holds every planted coefficient, so any analysis can be scored against the truth. The generative
story (all effects documented in ``rules.yaml``):

1. a catalogue of products (category, brand, colour, pattern, model code, latent quality ``q``),
   each listed by 1-5 sellers; each listing has its own title (in the seller's language), price,
   discount, free shipping, displayed rating, review count and photo (latent appeal ``a``);
2. users with a country, age and gender; review texts written in the reviewer's language whose
   sentiment follows ``q`` (the only place ``q`` shows), some with a customer photo;
3. sessions: a query for a category, ten impressions ranked by the platform, position-biased
   examination, clicks, dwell times and purchases from the country's utility.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from culturecart.atomic import check_output_dir
from culturecart.data.dataset import Dataset
from culturecart.data.hofstede import DIMENSIONS, hofstede_profiles
from culturecart.data.schema import ISO_COUNTRIES
from culturecart.data.simulate import images, language
from culturecart.data.simulate.utility import (
    country_intercepts,
    country_sensitivities,
    hofstede_z,
    load_rules,
)

DEFAULT_COUNTRIES = ("KR", "US", "GB", "DE", "JP", "FR", "ES", "ID")
COUNTRY_LANGUAGE = {"KR": "ko", "JP": "ja", "DE": "de", "FR": "fr", "ES": "es", "MX": "es", "ID": "id"}
CATEGORY_PRICE = {"electronics": 60.0, "fashion": 20.0, "beauty": 25.0, "home": 35.0, "kitchen": 12.0,
                  "toys": 18.0, "sports": 25.0, "stationery": 8.0}
BRANDS = {  # invented names; the first two of each category are premium brands
    "electronics": ("Auralis", "Sonique", "Beatrix", "Volt", "Klang", "Ondo"),
    "fashion": ("Maison Vela", "Kaze", "Urbano", "Stitch", "Linea", "Basico"),
    "beauty": ("Lumiere", "Seoa", "Dewy", "Pure", "Aqualis", "Nami"),
    "home": ("Nordlys", "Lumo", "Casa", "Brite", "Hikari", "Domo"),
    "kitchen": ("Ceramiq", "Tazza", "Brew", "Kopi", "Mugo", "Vaso"),
    "toys": ("Playlux", "Robo", "Kiddo", "Zoom", "Joya", "Mainan"),
    "sports": ("Apex", "Striker", "Goal", "Kick", "Sprint", "Bola"),
    "stationery": ("Scriptor", "Nota", "Papel", "Inku", "Write", "Buku"),
}
N_PREMIUM_BRANDS = 2


class SimulationConfig(BaseModel):
    """Settings of one simulated marketplace (every field has a documented default)."""

    model_config = ConfigDict(extra="forbid")

    countries: list[str] = Field(default_factory=lambda: list(DEFAULT_COUNTRIES))
    n_users: int = Field(2000, ge=1)
    n_products: int = Field(400, ge=2)
    sessions_per_user: float = Field(4.0, ge=1.0, description="mean sessions per user")
    impressions_per_session: int = Field(10, ge=1, le=50)
    image_size: int = Field(96, ge=32, le=512)
    review_photo_share: float = Field(0.1, ge=0.0, le=1.0)
    seed: int = 0
    heterogeneity_scale: float = Field(1.0, ge=0.0, description="multiplies every Hofstede rule weight")
    effect_scale: float = Field(1.0, ge=0.0, description="multiplies every base offer effect")
    rules_path: str | None = None
    hofstede_path: str | None = None
    start: str = "2026-01-05"
    days: int = Field(90, ge=1)

    @field_validator("countries")
    @classmethod
    def _iso(cls, value: list[str]) -> list[str]:
        value = [c.strip().upper() for c in value if c.strip()]
        bad = [c for c in value if c not in ISO_COUNTRIES]
        if bad:
            raise ValueError(f"not ISO 3166 alpha-2 country codes: {bad}")
        if len(set(value)) != len(value) or not value:
            raise ValueError(f"countries must be a non-empty list without repeats, got {value}")
        return value


def _rngs(seed: int, n: int) -> list[np.random.Generator]:
    # Independent streams per component: changing the number of users leaves the catalogue unchanged.
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


SIMULATION_STEPS = 4  # the calls simulate_marketplace makes to its progress callback


def simulate_marketplace(config: SimulationConfig | None = None,
                         progress: Callable[[str], None] | None = None) -> Dataset:
    """Simulate a complete dataset; images and the Shopee-format file are in ``Dataset.files``.

    ``progress(detail)`` is called after each of the ``SIMULATION_STEPS`` steps.

    Example:
        >>> ds = simulate_marketplace(SimulationConfig(n_users=30, n_products=20, seed=3))
        >>> int(ds.events["purchased"].isin([0, 1]).all()), "truth.json" in ds.extras
        (1, True)
    """
    cfg = config or SimulationConfig()
    say = progress or (lambda detail: None)
    rules = load_rules(cfg.rules_path)
    profiles = hofstede_profiles(cfg.countries, cfg.hofstede_path)
    beta = country_sensitivities(rules, profiles, cfg.heterogeneity_scale) * cfg.effect_scale
    alpha = country_intercepts(rules, profiles, cfg.heterogeneity_scale)
    r_cat, r_img, r_user, r_rev, r_sess, r_imp, r_aff = _rngs(cfg.seed, 7)
    langs = [COUNTRY_LANGUAGE.get(c, "en") for c in cfg.countries]

    products = _products(cfg, r_cat)
    items = _listings(cfg, products, langs, r_cat)
    features, feat_stats = _offer_features(items, products, list(rules.features))
    say(f"{len(items):,} listings")
    files, phashes = _render_listings(cfg, items, products, r_img)
    say(f"{len(files):,} listing images")
    items["image_path"] = [f"images/{i}.png" for i in items["item_id"]]
    users = _users(cfg, r_user)
    reviews = _reviews(cfg, items, products, users, r_rev, files, r_img)
    say(f"{len(users):,} users, {len(reviews):,} reviews")
    affinity = {
        "age": r_aff.normal(0, rules.behaviour.affinity_sd, len(language.CATEGORIES)),
        "gender": r_aff.normal(0, rules.behaviour.affinity_sd, len(language.CATEGORIES)),
    }
    events, signal_sd = _events(cfg, rules, items, users, features, beta, alpha, affinity, r_sess, r_imp)
    say(f"{len(events):,} events")

    groups = pd.DataFrame({"item_id": items["item_id"], "label_group": items["product_id"]})
    shopee = pd.DataFrame({"posting_id": items["item_id"], "image": items["item_id"] + ".png",
                           "image_phash": phashes, "title": items["title"], "label_group": items["product_id"]})
    files["matching/shopee.csv"] = shopee.to_csv(index=False).encode("utf-8")

    truth = _truth(cfg, rules, profiles, beta, alpha, feat_stats, affinity, items, products, events, users)
    truth["modality_signal_sd"] = signal_sd
    # Latents and the product key stay out of the tables: appeal shows only in the photo,
    # product identity only through the groups table.
    public_items = items.drop(columns=["product_id", "seller_language", "image_appeal"])
    ds = Dataset(
        users=users,
        items=public_items,
        reviews=reviews,
        events=events,
        groups=groups,
        meta={
            "name": "culturecart-simulated-marketplace",
            "source": "culturecart.data.simulate",
            "label": "purchased: the impression ended in a purchase",
            "seed": cfg.seed,
            "countries": cfg.countries,
            "matching_file": "matching/shopee.csv",
            "image_dir": "images",
        },
        extras={"truth.json": truth},
        files=files,
    )
    return ds


def _products(cfg: SimulationConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.n_products
    cat = rng.integers(0, len(language.CATEGORIES), n)
    brand_idx = rng.integers(0, 6, n)
    categories = [language.CATEGORIES[c] for c in cat]
    premium = brand_idx < N_PREMIUM_BRANDS
    base_price = np.array([CATEGORY_PRICE[c] for c in categories]) * np.exp(rng.normal(0, 0.35, n))
    base_price *= np.where(premium, 1.4, 1.0)
    letters = np.array(list("ABCDEFGHJKLMNPRSTVWXYZ"))
    model = [f"{''.join(rng.choice(letters, 2))}-{rng.integers(100, 1000)}" for _ in range(n)]
    return pd.DataFrame({
        "product_id": [f"p{i:06d}" for i in range(n)],
        "category": categories,
        "brand": [BRANDS[c][b] for c, b in zip(categories, brand_idx, strict=True)],
        "brand_premium": premium,
        "colour": rng.integers(0, len(language.COLOURS), n),
        "pattern": rng.integers(0, len(images.PATTERNS), n),
        "adjective": rng.integers(0, 6, n),
        "model": model,
        "base_price": base_price,
        "quality": rng.normal(0, 1, n),
        "n_listings": np.minimum(1 + rng.poisson(0.9, n), 5),
    })


def _listings(cfg: SimulationConfig, products: pd.DataFrame, langs: list[str],
              rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for p in products.itertuples(index=False):
        home = langs[rng.integers(len(langs))]
        for k in range(p.n_listings):
            lang = home if k == 0 or rng.random() < 0.5 else langs[rng.integers(len(langs))]
            noun = 0 if k == 0 else int(rng.integers(2))
            adj = p.adjective if rng.random() < 0.7 else int(rng.integers(6))
            text = language.title(lang, p.brand, p.category, p.colour, adj, noun, p.model)
            if k > 0 and rng.random() < 0.5:  # marketplace noise on re-listings
                promo = language.PROMO_TOKENS[rng.integers(len(language.PROMO_TOKENS))]
                text = f"{promo} {text}" if rng.random() < 0.5 else f"{text} {promo}"
            if k > 0 and rng.random() < 0.2:
                text = text.upper()
            discounted = rng.random() < 0.5
            rows.append({
                "product_id": p.product_id,
                "seller_language": lang,
                "title": text,
                "brand": p.brand,
                "brand_premium": bool(p.brand_premium),
                "category": p.category,
                "price": round(float(p.base_price * np.exp(rng.normal(0, 0.08))), 2),
                "discount_rate": round(float(rng.uniform(0.05, 0.6)), 2) if discounted else 0.0,
                "free_shipping": bool(rng.random() < 0.5),
                "rating": round(float(np.clip(rng.normal(4.2, 0.35), 1.0, 5.0)), 1),
                "review_count": float(np.floor(np.exp(rng.normal(3.0, 1.2)))),
                "image_appeal": float(rng.normal(0, 1)),
            })
    items = pd.DataFrame(rows)
    items.insert(0, "item_id", [f"i{i:06d}" for i in range(len(items))])
    return items


def _offer_features(items: pd.DataFrame, products: pd.DataFrame,
                    names: list[str]) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
    quality = products.set_index("product_id")["quality"]
    median = items.groupby("category")["price"].transform("median")
    raw = pd.DataFrame({
        "price": np.log(items["price"] / median),
        "discount_rate": items["discount_rate"],
        "free_shipping": items["free_shipping"].astype(float),
        "brand_premium": items["brand_premium"].astype(float),
        "rating": items["rating"],
        "review_count": np.log1p(items["review_count"]),
        "image_appeal": items["image_appeal"],
        "review_quality": items["product_id"].map(quality).to_numpy(),
    })
    unknown = sorted(set(names) - set(raw.columns))
    if unknown:
        raise ValueError(f"rules name features the simulator does not generate: {unknown}; "
                         f"valid: {list(raw.columns)}")
    raw = raw[names]
    mean, sd = raw.mean(), raw.std(ddof=0).replace(0, 1.0)
    stats = {k: {"mean": float(mean[k]), "sd": float(sd[k])} for k in names}
    return ((raw - mean) / sd).to_numpy(), stats


def _render_listings(cfg: SimulationConfig, items: pd.DataFrame, products: pd.DataFrame,
                     rng: np.random.Generator) -> tuple[dict[str, bytes], list[str]]:
    by_product = products.set_index("product_id")
    colours = list(language.COLOURS.values())
    files, hashes = {}, []
    first_seen: set[str] = set()
    for item in items.itertuples(index=False):
        p = by_product.loc[item.product_id]
        relisting = item.product_id in first_seen
        first_seen.add(item.product_id)
        img = images.render_product(
            p.category, colours[p.colour], images.PATTERNS[p.pattern], item.image_appeal, rng,
            size=cfg.image_size, crop=float(rng.uniform(0, 0.15)) if relisting else 0.0,
            hue_jitter=float(rng.uniform(0, 0.6)) if relisting else 0.0)
        files[f"images/{item.item_id}.png"] = images.png_bytes(img)
        hashes.append(str(imagehash.phash(img)))
    return files, hashes


def _users(cfg: SimulationConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.n_users
    return pd.DataFrame({
        "user_id": [f"u{i:07d}" for i in range(n)],
        "country": np.array(cfg.countries)[rng.integers(0, len(cfg.countries), n)],
        "age": np.clip(np.round(rng.normal(38, 12, n)), 16, 85).astype(float),
        "gender": rng.choice(np.array(["F", "M", "X"]), n, p=[0.49, 0.49, 0.02]),
    })


def _reviews(cfg: SimulationConfig, items: pd.DataFrame, products: pd.DataFrame, users: pd.DataFrame,
             rng: np.random.Generator, files: dict[str, bytes], img_rng: np.random.Generator) -> pd.DataFrame:
    quality = products.set_index("product_id")
    colours = list(language.COLOURS.values())
    user_lang = users["country"].map(lambda c: COUNTRY_LANGUAGE.get(c, "en")).to_numpy()
    rows = []
    for item in items.itertuples(index=False):
        p = quality.loc[item.product_id]
        n = int(min(item.review_count, 1 + rng.poisson(2)))
        for _ in range(n):
            reviewer = int(rng.integers(len(users)))
            lang = str(user_lang[reviewer])
            bank = language.REVIEW_PHRASES[lang]
            phrases = []
            for _ in range(int(rng.integers(1, 3))):
                positive = rng.random() < _sigmoid(np.array(1.5 * p.quality))
                pool = bank["pos"] if positive else bank["neg"]
                phrases.append(pool[rng.integers(len(pool))])
            if rng.random() < 0.6:
                phrases.insert(int(rng.integers(len(phrases) + 1)), bank["neu"][rng.integers(6)])
            rid = f"r{len(rows):07d}"
            photo = None
            if rng.random() < cfg.review_photo_share:
                img = images.render_product(p.category, colours[p.colour], images.PATTERNS[p.pattern],
                                            float(img_rng.normal(-0.5, 1)), img_rng, size=cfg.image_size,
                                            crop=0.2, hue_jitter=0.3)
                photo = f"images/reviews/{rid}.png"
                files[photo] = images.png_bytes(img)
            rows.append({"review_id": rid, "item_id": item.item_id, "user_id": users["user_id"].iat[reviewer],
                         "text": language.sentence_join(lang, phrases), "language": lang, "image_path": photo})
    return pd.DataFrame(rows, columns=["review_id", "item_id", "user_id", "text", "language", "image_path"])


def _events(cfg, rules, items, users, features, beta, alpha, affinity, rng_s, rng_i,
            ) -> tuple[pd.DataFrame, dict[str, float]]:
    beh = rules.behaviour
    n_users = len(users)
    n_sess = 1 + rng_s.poisson(cfg.sessions_per_user - 1.0, n_users)
    sess_user = np.repeat(np.arange(n_users), n_sess)
    n_s = len(sess_user)
    country_idx = pd.Index(cfg.countries).get_indexer(users["country"])
    age_z = ((users["age"].to_numpy() - 38.0) / 12.0)
    gender = users["gender"].map({"F": 1.0, "M": -1.0}).fillna(0.0).to_numpy()
    user_effect = rng_s.normal(0, beh.user_effect_sd, n_users)
    n_cat = len(language.CATEGORIES)
    aff = np.outer(age_z, affinity["age"]) + np.outer(gender, affinity["gender"])  # users x categories
    logits = aff[sess_user]
    cat = (logits + rng_s.gumbel(size=(n_s, n_cat))).argmax(1)
    start = pd.Timestamp(cfg.start)
    offsets = np.sort(rng_s.uniform(0, cfg.days * 86400.0, n_s))  # time order across sessions
    sess_order = rng_s.permutation(n_s)  # but sessions of a user are not contiguous in time
    sess_time = np.empty(n_s)
    sess_time[sess_order] = offsets
    colour_q = np.where(rng_s.random(n_s) < 0.3, rng_s.integers(0, len(language.COLOURS), n_s), -1)

    item_cat = pd.Index(language.CATEGORIES).get_indexer(items["category"])
    popularity = np.log1p(items["review_count"].to_numpy())
    platform = 0.5 * features[:, list(beta.columns).index("rating")] if "rating" in beta.columns else 0.0
    platform = platform + 0.3 * (popularity - popularity.mean()) / (popularity.std() + 1e-9)
    k = cfg.impressions_per_session
    shown = np.full((n_s, k), -1, dtype=np.int64)
    for c in range(n_cat):
        pool = np.flatnonzero(item_cat == c)
        rows = np.flatnonzero(cat == c)
        if len(rows) == 0:
            continue
        if len(pool) == 0:
            pool = np.arange(len(items))
        kk = min(k, len(pool))
        keys = np.log1p(popularity[pool])[None, :] + rng_i.gumbel(size=(len(rows), len(pool)))
        top = np.argpartition(-keys, kk - 1, axis=1)[:, :kk] if kk < len(pool) else np.tile(np.arange(len(pool)), (len(rows), 1))
        picked = pool[top]
        order = np.argsort(-(platform[picked] + rng_i.normal(0, 0.5, picked.shape)), axis=1)
        shown[rows, :kk] = np.take_along_axis(picked, order, axis=1)
    mask = shown >= 0
    s_idx, pos0 = np.nonzero(mask)
    item_idx = shown[mask]
    u_idx = sess_user[s_idx]
    c_idx = country_idx[u_idx]
    b = beta.to_numpy()
    v = np.einsum("ij,ij->i", features[item_idx], b[c_idx]) + user_effect[u_idx] + aff[u_idx, cat[s_idx]]
    position = pos0 + 1
    examined = rng_i.random(len(v)) < (1.0 / position) ** beh.position_bias_eta
    clicked = examined & (rng_i.random(len(v)) < _sigmoid(beh.click_intercept + beh.click_share * v))
    bought = clicked & (rng_i.random(len(v)) < _sigmoid(alpha.to_numpy()[c_idx] + v))
    dwell = np.where(clicked, np.exp(rng_i.normal(3.0 + 0.3 * v + 0.4 * bought, 0.5)), 0.0)
    # Planted signal strength per modality: SD over events of its part of the purchase log-odds.
    feats = list(beta.columns)
    contrib = features[item_idx] * b[c_idx]
    offer_cols = [i for i, f in enumerate(feats) if f not in ("image_appeal", "review_quality")]
    signal_sd = {
        "offer": float(contrib[:, offer_cols].sum(axis=1).std()),
        "text": float(contrib[:, feats.index("review_quality")].std()) if "review_quality" in feats else 0.0,
        "image": float(contrib[:, feats.index("image_appeal")].std()) if "image_appeal" in feats else 0.0,
        "consumer": float((aff[u_idx, cat[s_idx]] + alpha.to_numpy()[c_idx]).std()),
        "behaviour": float((user_effect[u_idx] - beh.position_bias_eta * np.log(position)).std()),
    }
    user_lang = np.array([COUNTRY_LANGUAGE.get(c, "en") for c in users["country"]])
    sess_query = np.array([language.query(user_lang[u], language.CATEGORIES[c], None if q < 0 else int(q))
                           for u, c, q in zip(sess_user, cat, colour_q, strict=True)])
    ts = start + pd.to_timedelta(sess_time[s_idx] + 5.0 * pos0, unit="s")
    events = pd.DataFrame({
        "session_id": np.char.add("s", np.char.zfill(s_idx.astype(str), 8)),
        "user_id": users["user_id"].to_numpy()[u_idx],
        "item_id": items["item_id"].to_numpy()[item_idx],
        "timestamp": ts.floor("s"),
        "position": position.astype(float),
        "query": sess_query[s_idx],
        "dwell_time_s": np.round(dwell, 2),
        "clicked": clicked.astype(float),
        "purchased": bought.astype(np.int64),
    })
    return events.sort_values(["timestamp", "session_id", "position"], kind="stable").reset_index(drop=True), signal_sd


def _truth(cfg, rules, profiles, beta, alpha, feat_stats, affinity, items, products, events, users) -> dict:
    z = hofstede_z(profiles)
    country_of = users.set_index("user_id")["country"]
    ev_country = events["user_id"].map(country_of)
    rate = events.groupby(ev_country)["purchased"].mean()
    quality = products.set_index("product_id")["quality"]
    return {
        "description": "Planted truth of a culturecart simulated marketplace. Sensitivities are per SD of "
                       "each standardised feature: beta[c,k] = base[k] * effect_scale * "
                       "exp(heterogeneity_scale * sum_d w[k,d] * z[c,d]), z = (score - 50) / 25.",
        "config": json.loads(cfg.model_dump_json()),
        "rules": json.loads(rules.model_dump_json()),
        "features": {k: {**feat_stats[k], "description": rules.features[k].description,
                         "modality": _modality(k)} for k in beta.columns},
        "countries": {
            c: {
                "hofstede": {d: float(profiles.loc[c, d]) for d in DIMENSIONS},
                "z": {d: float(z.loc[c, d]) for d in DIMENSIONS},
                "intercept": float(alpha[c]),
                "sensitivity": {k: float(beta.loc[c, k]) for k in beta.columns},
                "purchase_rate": float(rate.get(c, float("nan"))),
                "users": int((users["country"] == c).sum()),
            }
            for c in cfg.countries
        },
        "behaviour": json.loads(rules.behaviour.model_dump_json()),
        "category_affinity": {cat: {"age": float(affinity["age"][i]), "gender_female": float(affinity["gender"][i])}
                              for i, cat in enumerate(language.CATEGORIES)},
        "item_latents": {
            "item_id": items["item_id"].tolist(),
            "image_appeal": [round(float(v), 6) for v in items["image_appeal"]],
            "review_quality": [round(float(v), 6) for v in items["product_id"].map(quality)],
        },
        "events": {"rows": int(len(events)), "purchase_rate": float(events["purchased"].mean()),
                   "click_rate": float(events["clicked"].mean())},
        "modality_signal_note": "SD over events of each modality's part of the purchase log-odds (offer: "
                                "observable offer features; text: review_quality; image: image_appeal; consumer: "
                                "category affinity + country intercept; behaviour: user propensity + log "
                                "examination probability at the shown position)",
    }


def _modality(feature: str) -> str:
    return {"image_appeal": "image", "review_quality": "text"}.get(feature, "tabular")


def write_marketplace(out: str | Path, config: SimulationConfig | None = None, fmt: str = "parquet",
                      overwrite: bool = False, progress: Callable[[str], None] | None = None) -> Dataset:
    """Simulate and write the dataset folder atomically (tables, images, truth.json, matching/).

    ``progress`` is called ``SIMULATION_STEPS + 1`` times (the last when the folder is written).
    """
    check_output_dir(out, overwrite=overwrite)  # before the work, not after it
    ds = simulate_marketplace(config, progress)
    ds.save(out, fmt=fmt, overwrite=overwrite)
    if progress:
        progress(f"written to {out}")
    return ds
