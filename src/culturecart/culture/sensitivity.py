"""RQ4: which offer features is each country more sensitive to? Two estimators, one table shape.

(a) **Country-interaction logit** (statsmodels): ``purchased ~ country fixed effects + sum_k x_k : country``
    on the rows where a purchase was possible (by default the clicked impressions: P(buy | click), the
    conversion model), features standardised over the catalogue so every coefficient is "log-odds per
    catalogue SD". Standard errors are cluster-robust by user. Reported per country and feature: the
    coefficient and the average marginal effect on P(purchase) (AME = coef x mean p(1-p) in that country,
    CI by the delta method holding the mean p(1-p) fixed), with 95% CIs; a Wald test per feature that all
    countries share one coefficient (the heterogeneity test).
(b) **Model-agnostic**: from any fitted model, the partial-dependence slope per country: the mean change
    in the model's log-odds when one offer column moves by +/- ``delta`` catalogue SD, per SD, with a
    cluster-bootstrap CI over the country's users.

Offer features come from the items table when present: ``price`` (log of price over its category's
median price), ``discount_rate``, ``free_shipping``, ``brand_premium``, ``rating``, ``review_count``
(log1p). What only an image or a review shows enters as a learned index: ``image_index`` and
``review_index`` are cross-fitted predictions of purchase from the item's image embedding or mean
review embedding (a logistic regression per item fold, never scoring the items it was fitted on),
standardised over the catalogue; their scale is arbitrary, their per-country ranking is what counts.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from culturecart.data.dataset import Dataset
from culturecart.encoders.encode import Embeddings
from culturecart.evaluate.bootstrap import bootstrap_statistic
from culturecart.models.base import PurchaseModel, logit
from culturecart.models.features import ModalityData
from culturecart.models.projection import Projection

TABLE_FEATURES = ("price", "discount_rate", "free_shipping", "brand_premium", "rating", "review_count")
INDEX_SOURCES = {"image_index": "items.image_path", "review_index": "reviews.text"}
OFFER_BLOCK_NAMES = {"price": "log1p_price", "review_count": "log1p_review_count"}


@dataclass
class SensitivityDesign:
    """Per-event standardised offer features of the estimation rows, with label and row metadata."""

    x: pd.DataFrame
    y: np.ndarray
    meta: pd.DataFrame  # country, user_id, session_id, item_id
    filled: dict[str, int]  # feature -> rows whose missing value was set to the catalogue mean
    rows: np.ndarray | None = None  # positions of the estimation rows in ``ds.table("events")``


def _item_features(items: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=items["item_id"].astype(str))
    if "price" in items:
        price = pd.to_numeric(items["price"], errors="coerce").where(lambda v: v > 0)
        if "category" in items:
            median = price.groupby(items["category"].astype(str)).transform("median")
        else:
            median = pd.Series(price.median(), index=price.index)
        out["price"] = np.log(price / median).to_numpy()
    for col in ("discount_rate", "free_shipping", "brand_premium", "rating"):
        if col in items:
            out[col] = pd.to_numeric(items[col].astype("Float64"), errors="coerce").astype(float).to_numpy()
    if "review_count" in items:
        out["review_count"] = np.log1p(pd.to_numeric(items["review_count"], errors="coerce").clip(lower=0)).to_numpy()
    return out.loc[:, out.notna().any() & (out.std() > 0)]


def _item_vectors(ds: Dataset, key: str, emb: Embeddings, dim: int) -> pd.DataFrame:
    emb = Projection.fit(emb.vectors[emb.mask], dim, emb.encoder).apply(emb)
    vec = np.where(emb.mask[:, None], emb.vectors, np.nan)
    if key == "items.image_path":
        frame = pd.DataFrame(vec, index=ds.items["item_id"].astype(str))
        return frame[emb.mask]
    frame = pd.DataFrame(vec)
    frame["item_id"] = ds.reviews["item_id"].astype(str).to_numpy()
    return frame[emb.mask].groupby("item_id").mean()


def embedding_index(item_ids: np.ndarray, y: np.ndarray, vectors: pd.DataFrame, n_folds: int = 5, C: float = 0.1,
                    seed: int = 0) -> pd.Series:
    """Cross-fitted P(purchase) index per item from its vector (index: item id); NaN without a vector.

    Items in the estimation rows are scored by the model of the fold that left them out; other items by
    the mean of the fold models.
    """
    has = np.isin(item_ids, vectors.index)
    ids, yy = item_ids[has], y[has]
    x = vectors.reindex(ids).to_numpy()
    mean, sd = vectors.to_numpy().mean(0), vectors.to_numpy().std(0) + 1e-9
    index = pd.Series(np.nan, index=vectors.index, dtype=float)
    if len(np.unique(ids)) < n_folds or yy.min() == yy.max():
        return index
    all_scores = []
    for fold, (tr, te) in enumerate(GroupKFold(n_splits=n_folds).split(x, yy, groups=ids)):
        clf = LogisticRegression(C=C, max_iter=2000, random_state=seed + fold).fit((x[tr] - mean) / sd, yy[tr])
        score = clf.decision_function((vectors.to_numpy() - mean) / sd)
        all_scores.append(score)
        held = np.unique(ids[te])
        index.loc[held] = pd.Series(score, index=vectors.index).loc[held]
    rest = index.isna()
    index[rest] = np.mean(all_scores, axis=0)[rest.to_numpy()]
    return index


def available_features(ds: Dataset, embeddings: dict[str, Embeddings] | None = None) -> list[str]:
    """The offer features RQ4 can estimate on ``ds``: item columns that vary, and the indices whose embeddings
    exist (a check for settings before any fitting). Without ``embeddings``: the indices whose source column has
    values to embed (the check before encoding)."""
    table = _item_features(ds.items.drop_duplicates("item_id")) if ds.items is not None else pd.DataFrame()
    if embeddings is None:
        present = {key for key in INDEX_SOURCES.values() if _has_values(ds, key)}
    else:
        present = set(embeddings)
    return list(table.columns) + [name for name, key in INDEX_SOURCES.items() if key in present]


def _has_values(ds: Dataset, key: str) -> bool:
    table, _, column = key.partition(".")
    frame = getattr(ds, table, None)
    return frame is not None and column in frame.columns and bool(frame[column].notna().any())


def sensitivity_design(ds: Dataset, embeddings: dict[str, Embeddings] | None = None, *,
                       rows: str = "clicked", features: Sequence[str] | None = None, embedding_dim: int = 16,
                       seed: int = 0) -> SensitivityDesign:
    """Standardised offer features for each estimation row (``rows``: ``clicked`` or ``all``)."""
    events = ds.table("events").reset_index(drop=True)
    positions = np.arange(len(events))
    if rows == "clicked":
        if "clicked" not in events:
            raise ValueError("rows='clicked' needs a 'clicked' column in events; use rows='all'")
        clicked = (events["clicked"].fillna(0).astype(float) > 0).to_numpy()
        events, positions = events[clicked].reset_index(drop=True), positions[clicked]
    elif rows != "all":
        raise ValueError(f"rows must be 'clicked' or 'all', not {rows!r}")
    if events.empty:
        raise ValueError("no estimation rows (no clicked impressions)")
    if ds.items is None:
        raise ValueError("RQ4 needs an items table with offer attributes")
    items = ds.items.drop_duplicates("item_id")
    table = _item_features(items)
    item_ids = events["item_id"].astype(str).to_numpy()
    y = events["purchased"].to_numpy(np.int64)
    for name, key in INDEX_SOURCES.items():
        if embeddings and key in embeddings:
            vectors = _item_vectors(ds, key, embeddings[key], embedding_dim)
            table[name] = embedding_index(item_ids, y, vectors, seed=seed).reindex(table.index).to_numpy()
    wanted = list(features) if features else list(table.columns)
    unknown = [f for f in wanted if f not in table.columns]
    if unknown:
        raise KeyError(f"features {unknown} are not available; available: {list(table.columns)}")
    table = table[wanted]
    table = (table - table.mean()) / table.std(ddof=0).replace(0, 1.0)  # per catalogue SD
    x = table.reindex(item_ids).reset_index(drop=True)
    filled = {c: int(n) for c, n in x.isna().sum().items() if n}
    if filled:
        warnings.warn(f"missing offer values set to the catalogue mean: {filled}", stacklevel=2)
    x = x.fillna(0.0)
    users = ds.users.drop_duplicates("user_id").set_index("user_id") if ds.users is not None else None
    country = (users["country"].reindex(events["user_id"].astype(str)).to_numpy()
               if users is not None and "country" in users else np.full(len(events), None))
    meta = pd.DataFrame({"country": country, "user_id": events["user_id"].astype(str).to_numpy(),
                         "session_id": events["session_id"].astype(str).to_numpy(), "item_id": item_ids})
    return SensitivityDesign(x, y, meta, filled, positions)


@dataclass
class SensitivityResult:
    effects: pd.DataFrame  # country x feature: coef, se, ci, p, ame, ame ci
    heterogeneity: pd.DataFrame  # per feature: Wald chi2, df, p
    intercepts: pd.Series  # country fixed effect = log-odds at the catalogue-mean offer
    countries: list[str]


def country_logit(design: SensitivityDesign, *, min_rows: int = 100, cluster: str = "user_id",
                  alpha: float = 0.05) -> SensitivityResult:
    """Fit the country-interaction logit (see the module docstring)."""
    from scipy import stats

    country = pd.Series(design.meta["country"]).astype(object)
    counts = country.value_counts()
    labels = pd.Series(design.y).groupby(country.to_numpy()).agg(["min", "max"])
    keep = [c for c in sorted(counts.index) if counts[c] >= min_rows and labels.loc[c, "min"] != labels.loc[c, "max"]]
    dropped = sorted(set(counts.index) - set(keep))
    if dropped:
        warnings.warn(f"RQ4 logit leaves out countries with fewer than {min_rows} rows or a single label: "
                      f"{', '.join(map(str, dropped))}", stacklevel=2)
    if len(keep) < 2:  # sensitivities are compared across countries: one country has nothing to differ from
        have = f"only {keep[0]} has" if keep else "no country has"
        raise ValueError(f"{have} {min_rows}+ estimation rows with both labels; RQ4 compares at least two "
                         "(lower rq4.min_rows to include smaller countries, at the cost of noisier estimates)")
    rows = country.isin(keep).to_numpy()
    x, y, c = design.x[rows].reset_index(drop=True), design.y[rows], country[rows].reset_index(drop=True)
    feats = list(x.columns)
    cols = {}
    for k in keep:
        cols[f"FE[{k}]"] = (c == k).astype(float).to_numpy()
    for f in feats:
        for k in keep:
            cols[f"{f}[{k}]"] = np.where(c == k, x[f].to_numpy(), 0.0)
    xmat = pd.DataFrame(cols)
    groups = pd.factorize(design.meta[cluster].to_numpy()[rows])[0]
    res = sm.Logit(y, xmat).fit(disp=0, method="newton", maxiter=100, cov_type="cluster",
                                cov_kwds={"groups": groups})
    p = res.predict(xmat)
    slope = pd.Series(p * (1 - p)).groupby(c.to_numpy()).mean()
    q = stats.norm.ppf(1 - alpha / 2)
    out = []
    for f in feats:
        for k in keep:
            name = f"{f}[{k}]"
            coef, se = float(res.params[name]), float(res.bse[name])
            out.append({"country": k, "feature": f, "coef": coef, "se": se, "ci_low": coef - q * se,
                        "ci_high": coef + q * se, "p_value": float(res.pvalues[name]),
                        "ame": coef * slope[k], "ame_ci_low": (coef - q * se) * slope[k],
                        "ame_ci_high": (coef + q * se) * slope[k], "n_rows": int(counts[k])})
    het = []
    names = list(xmat.columns)
    for f in feats:
        if len(keep) < 2:
            break
        r = np.zeros((len(keep) - 1, len(names)))
        for j, k in enumerate(keep[1:]):
            r[j, names.index(f"{f}[{k}]")] = 1.0
            r[j, names.index(f"{f}[{keep[0]}]")] = -1.0
        w = res.wald_test(r, scalar=True)
        het.append({"feature": f, "wald_chi2": float(w.statistic), "df": len(keep) - 1, "p_value": float(w.pvalue)})
    intercepts = pd.Series({k: float(res.params[f"FE[{k}]"]) for k in keep})
    return SensitivityResult(pd.DataFrame(out), pd.DataFrame(het), intercepts, keep)


def pd_sensitivity(model: PurchaseModel, data: ModalityData, features: Sequence[str] = TABLE_FEATURES, *,
                   delta: float = 0.5, n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Partial-dependence slope (log-odds per SD of the offer column) per country, with cluster-bootstrap CIs.

    ``features`` are RQ4 names; each maps to its offer-block column (``price`` -> ``log1p_price``,
    ``review_count`` -> ``log1p_review_count``); features without a column are left out.
    """
    names = data.names.get("offer", [])
    country = data.meta["country"].astype(object).to_numpy()
    users = data.meta["user_id"].to_numpy()
    out = []
    for f in features:
        col = OFFER_BLOCK_NAMES.get(f, f)
        if col not in names:
            continue
        j = names.index(col)
        values = data.blocks["offer"][:, j]
        sd = float(np.nanstd(values))
        if not sd:
            continue
        shifted = []
        for sign in (1.0, -1.0):
            block = data.blocks["offer"].copy()
            block[:, j] = values + sign * delta * sd
            moved = ModalityData({**data.blocks, "offer": block}, data.names, data.present, data.y, data.meta,
                                 data.kinds)
            shifted.append(logit(model.predict_proba(moved)))
        diff = (shifted[0] - shifted[1]) / (2 * delta)
        for k in sorted({c for c in country if isinstance(c, str)}):
            idx = np.flatnonzero(country == k)
            d = diff[idx]
            ci = bootstrap_statistic(lambda i, d=d: float(np.nanmean(d[i])), len(idx), clusters=users[idx],
                                     n_boot=n_boot, seed=seed)
            out.append({"country": k, "feature": f, "pd_slope": ci.estimate, "ci_low": ci.low, "ci_high": ci.high})
    return pd.DataFrame(out)


def sensitivity_matrix(result: SensitivityResult, value: str = "coef") -> pd.DataFrame:
    """Countries x features, each feature signed so that larger = more sensitive (a negative pooled
    effect such as price is flipped), plus ``baseline_propensity`` (the country fixed effect) as is."""
    wide = result.effects.pivot(index="country", columns="feature", values=value)
    return oriented(wide[list(dict.fromkeys(result.effects["feature"]))], result.intercepts)


def oriented(slopes: pd.DataFrame, intercepts: pd.Series) -> pd.DataFrame:
    """Countries x features signed so that larger = more sensitive, plus ``baseline_propensity`` as is."""
    wide = slopes * np.sign(slopes.mean()).replace(0, 1.0)
    wide["baseline_propensity"] = intercepts.reindex(wide.index)
    return wide


def design_users_per_country(ds, rows: str, min_rows: int) -> float:
    """The median number of users per country among the countries RQ4 can estimate (``min_rows`` estimation rows
    or more): what decides whether its asymptotic tests can be trusted."""
    events = ds.events
    if rows == "clicked" and "clicked" in events:
        events = events[events["clicked"].fillna(0).astype(float) > 0]
    if ds.users is None or "user_id" not in events or "country" not in ds.users:
        return float("nan")
    country = events["user_id"].astype(str).map(ds.users.set_index(ds.users["user_id"].astype(str))["country"])
    frame = pd.DataFrame({"country": country.to_numpy(), "user": events["user_id"].astype(str).to_numpy()}).dropna()
    counts = frame.groupby("country").size()
    kept = frame[frame["country"].isin(counts.index[counts >= min_rows])]
    return float(kept.groupby("country")["user"].nunique().median()) if len(kept) else float("nan")
