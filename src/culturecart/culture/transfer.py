"""RQ5: how much does adding a country's data to a global model help? Learning curves per target country.

For a target country ``t`` and each fraction ``f`` of its training users (0 = none: zero-shot), three arms
are fitted and scored on the same test rows of ``t``:

==========  ==================================================================================
``local``   target rows only (undefined at f = 0)
``global``  the source countries' rows + the target rows, country as an input
``culture`` the same rows with the country replaced by its Hofstede profile (the conditioned model)
==========  ==================================================================================

Sources default to every other country; pass ``sources`` for the FOREC cross-market setting (a target
market plus chosen source markets). Each (fraction, seed) draws its own subset of target users; the
summary is the mean over seeds with a t interval. The **data-equivalent value** of the foreign data at
fraction f is how many target rows the local model needs to reach the pooled arm's AUC at f, minus the
target rows the pooled arm had (linear interpolation on the mean local curve; ``inf`` when the local
curve never gets there within the available data, reported as "more than all").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from culturecart.culture.scopes import fit_scope, pooled_rows
from culturecart.evaluate.metrics import get_metric_spec
from culturecart.evaluate.splits import Split
from culturecart.models.features import ModalityData, usable_valid
from culturecart.parallel import parallel_map

ARMS = ("local", "global", "culture")
DEFAULT_FRACTIONS = (0.0, 0.1, 0.25, 0.5, 1.0)


@dataclass
class TransferCurves:
    runs: pd.DataFrame  # one row per target x arm x fraction x seed
    summary: pd.DataFrame  # mean over seeds with CI
    data_equivalent: pd.DataFrame  # per target x pooled arm x fraction


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, dict]:
    """Integer codes of ``values`` that sort as the values do (missing: -1), and each value's code.

    The values themselves are sorted, as ``np.unique`` sorts them, whatever the column's dtype (a categorical
    column's own order would draw other users)."""
    codes, uniques = pd.factorize(values.to_numpy(), sort=True)
    return codes, {v: i for i, v in enumerate(uniques.tolist())}


def _subset_users(users: np.ndarray, rows: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``fraction`` of the distinct users of ``rows`` (``users``: sorted codes), drawn by ``rng``, with all their rows."""
    chosen = users[rows]
    unique = np.unique(chosen)
    k = int(round(fraction * len(unique)))
    keep = rng.choice(unique, k, replace=False) if k else unique[:0]
    return rows[np.isin(chosen, keep)]


@dataclass
class TransferRows:
    """The rows one learning-curve run fits on and is scored on, and its record without the AUC yet."""

    train: np.ndarray  # sorted row indices
    valid: np.ndarray
    test: np.ndarray  # the target country's test rows
    scope: str  # how the model is fitted on them: "global" (local and global arms) or "culture"
    record: dict
    # Sorted rows the features are binned on, holding ``train``: the sources' and the target's training rows for
    # the pooled arms, so every point of a curve shares one binning (PurchaseModel.fit_subset); None for local.
    pool: np.ndarray | None = None

    @property
    def fittable(self) -> bool:
        return self.record["fittable"]


def transfer_rows(data: ModalityData, split: Split, target: str, sources: list[str], arm: str, fraction: float,
                  seed: int) -> TransferRows:
    """Which rows the run (target, arm, fraction, seed) trains, validates and is scored on."""
    return plan_transfer(data, split, [(target, sources, arm, fraction, seed)])[0]


def plan_transfer(data: ModalityData, split: Split,
                  tasks: Sequence[tuple[str, Sequence[str], str, float, int]]) -> list[TransferRows]:
    """:func:`transfer_rows` of every task of :func:`transfer_tasks`, with the country and user columns read once
    (a study plans its learning curves while its workers wait)."""
    country, country_code = _sorted_codes(data.meta["country"])
    # Codes in the users' sorted order: the users a seed draws are the ones np.unique's sorted ids would give.
    users = _sorted_codes(data.meta["user_id"])[0]
    y, out = data.y, []
    for target, sources, arm, fraction, seed in tasks:
        code = country_code.get(target, -2)  # -2: a country without rows matches none
        source_codes = [country_code[c] for c in sources if c in country_code]
        rng = np.random.default_rng([seed, int(round(fraction * 1000))])  # same users for every arm
        target_train = split.train[country[split.train] == code]
        tr_t = _subset_users(users, target_train, fraction, rng)
        va_t = _subset_users(users, split.valid[country[split.valid] == code], fraction, rng)
        src_tr = split.train[np.isin(country[split.train], source_codes)]
        src_va = split.valid[np.isin(country[split.valid], source_codes)]
        test = split.test[country[split.test] == code]
        tr, va = (tr_t, va_t) if arm == "local" else (np.concatenate([src_tr, tr_t]), np.concatenate([src_va, va_t]))
        tr, va = np.sort(tr), np.sort(va)
        pool = None if arm == "local" else np.sort(np.concatenate([src_tr, target_train]))
        fittable = bool(len(tr) and y[tr].min() != y[tr].max() and len(test) and y[test].min() != y[test].max())
        record = {"target": target, "arm": arm, "fraction": fraction, "seed": seed, "n_target_rows": len(tr_t),
                  "n_source_rows": 0 if arm == "local" else len(src_tr), "roc_auc": np.nan, "fittable": fittable}
        out.append(TransferRows(tr, va, test, "culture" if arm == "culture" else "global", record, pool))
    return out


def transfer_run(data: ModalityData, split: Split, target: str, sources: list[str], arm: str, fraction: float,
                 seed: int, model: str, profiles: pd.DataFrame | None, overrides: dict) -> dict:
    """One learning-curve run: fit on :func:`transfer_rows` and score AUC on the target's test rows."""
    rows = transfer_rows(data, split, target, sources, arm, fraction, seed)
    record = {k: v for k, v in rows.record.items() if k != "fittable"}
    if not rows.fittable:
        return record
    fit_on, positions = pooled_rows(rows.train, rows.pool)
    fitted = fit_scope(rows.scope, model, data.rows(fit_on), usable_valid(data.rows(rows.valid)), profiles=profiles,
                       seed=seed, rows=positions, **overrides)
    test = data.rows(rows.test)
    record["roc_auc"] = get_metric_spec("roc_auc").fn(test.y, fitted.predict_proba(test), None)
    return record


def _mean_ci(values: pd.Series, alpha: float = 0.05) -> pd.Series:
    """Mean AUC over seeds with a t interval on the logit scale around it: inside (0, 1) and holding the mean (the
    runs alone carry no rows to resample; the study resamples users instead, :func:`user_intervals`)."""
    v = values.dropna().to_numpy()
    if len(v) == 0:
        return pd.Series({"value": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_seeds": 0})
    mean = float(v.mean())
    if len(v) < 2:
        return pd.Series({"value": mean, "ci_low": np.nan, "ci_high": np.nan, "n_seeds": len(v)})
    logits = np.log(np.clip(v, 1e-9, 1 - 1e-9) / (1 - np.clip(v, 1e-9, 1 - 1e-9)))
    half = stats.t.ppf(1 - alpha / 2, len(v) - 1) * logits.std(ddof=1) / np.sqrt(len(v))
    centre = np.log(np.clip(mean, 1e-9, 1 - 1e-9) / (1 - np.clip(mean, 1e-9, 1 - 1e-9)))
    return pd.Series({"value": mean, "ci_low": 1 / (1 + np.exp(-(centre - half))),
                      "ci_high": 1 / (1 + np.exp(-(centre + half))), "n_seeds": len(v)})


def user_intervals(points: dict[tuple, list[np.ndarray]], y: dict[tuple, np.ndarray], users: dict[tuple, np.ndarray],
                   n_boot: int = 200, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Per curve point (target, arm, fraction): the mean AUC over its seeds' predictions on the target's test rows,
    with a percentile interval (:func:`~culturecart.evaluate.bootstrap.interval`) over resampled users: AUCs stay
    in [0, 1], and the seeds' model variation and the test users' sampling variation are both in the interval's
    width only as far as the data show them (2 seeds cannot carry a t interval)."""
    from culturecart.evaluate.bootstrap import bootstrap_mean_ci

    rows = []
    for key, preds in points.items():
        iv = bootstrap_mean_ci("roc_auc", y[key], preds, clusters=users[key], n_boot=n_boot, seed=seed, alpha=alpha)
        rows.append({"target": key[0], "arm": key[1], "fraction": key[2], "value": iv.estimate, "ci_low": iv.low,
                     "ci_high": iv.high, "n_seeds": len(preds), "interval": iv.method})
    return pd.DataFrame(rows)


def rows_needed(curve_rows: np.ndarray, curve_auc: np.ndarray, target_auc: float) -> float:
    """Target rows at which a learning curve first reaches ``target_auc``.

    The curve is anchored at (0 rows, AUC 0.5: no data, chance), made monotone (running maximum) and
    interpolated linearly; ``inf`` when it never reaches the target.

    Example:
        >>> rows_needed(np.array([100, 200, 400]), np.array([0.6, 0.7, 0.8]), 0.75)
        300.0
    """
    keep = np.isfinite(np.asarray(curve_auc, float))
    order = np.argsort(np.asarray(curve_rows, float)[keep])
    x = np.concatenate([[0.0], np.asarray(curve_rows, float)[keep][order]])
    y = np.maximum.accumulate(np.concatenate([[0.5], np.asarray(curve_auc, float)[keep][order]]))
    if np.isnan(target_auc) or y[-1] < target_auc:
        return float("inf")
    if target_auc <= 0.5:
        return 0.0
    j = int(np.argmax(y >= target_auc))
    return float(x[j - 1] + (target_auc - y[j - 1]) / (y[j] - y[j - 1]) * (x[j] - x[j - 1]))


def learning_curves(data: ModalityData, split: Split, targets: Sequence[str], *, model: str = "lightgbm",
                    fractions: Sequence[float] = DEFAULT_FRACTIONS, arms: Sequence[str] = ARMS,
                    seeds: Sequence[int] = (0, 1, 2), sources: Sequence[str] | None = None,
                    profiles: pd.DataFrame | None = None, n_jobs: int = 1, backend: str = "loky",
                    **overrides: object) -> TransferCurves:
    """Learning curves of every arm for every target country (see the module docstring)."""
    tasks = transfer_tasks(data, targets, fractions=fractions, arms=arms, seeds=seeds, sources=sources)
    runs = pd.DataFrame(parallel_map(transfer_run, [(data, split, *t, model, profiles, dict(overrides))
                                                    for t in tasks], n_jobs, backend))
    return summarise_transfer(runs, targets, arms)


def transfer_tasks(data: ModalityData, targets: Sequence[str], *, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                   arms: Sequence[str] = ARMS, seeds: Sequence[int] = (0, 1, 2),
                   sources: Sequence[str] | None = None) -> list[tuple[str, list[str], str, float, int]]:
    """(target, sources, arm, fraction, seed) of every run (local at fraction 0 is undefined, left out)."""
    bad = [a for a in arms if a not in ARMS]
    if bad:
        raise ValueError(f"unknown arm(s) {bad}; valid: {list(ARMS)}")
    if any(not 0 <= f <= 1 for f in fractions):
        raise ValueError(f"fractions must lie in [0, 1], got {list(fractions)}")
    present = set(pd.Series(data.meta["country"]).dropna().astype(str))
    missing = [t for t in targets if t not in present]
    if missing:
        raise ValueError(f"target countries {missing} have no rows; countries in the data: {sorted(present)}")
    tasks = []
    for target in targets:
        src = [c for c in (sources or sorted(present)) if c != target]
        for arm in arms:
            for fraction in fractions:
                if arm == "local" and fraction == 0:
                    continue
                tasks += [(target, src, arm, float(fraction), int(seed)) for seed in seeds]
    return tasks


def pooled_gains(points: dict[tuple, list[np.ndarray]], y: dict[tuple, np.ndarray], users: dict[tuple, np.ndarray],
                 n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Per target: the pooled model (global arm, all of the target's rows) against the local one (all of its rows),
    paired over the same test users (bootstrap interval and p-value, Benjamini-Hochberg over targets), with the
    zero-shot AUC (culture arm, else global, at fraction 0) beside them."""
    from culturecart.evaluate.bootstrap import paired_mean_delta
    from culturecart.evaluate.multitest import benjamini_hochberg

    rows = []
    for target in sorted({k[0] for k in points}):
        full = {arm: points.get((target, arm, 1.0)) for arm in ("global", "local")}
        if not full["global"] or not full["local"]:
            continue
        key = (target, "local", 1.0)
        iv, p = paired_mean_delta("roc_auc", y[key], full["global"], full["local"], clusters=users[key],
                                  n_boot=n_boot, seed=seed)
        auc = get_metric_spec("roc_auc").fn
        zero = points.get((target, "culture", 0.0)) or points.get((target, "global", 0.0))
        zero_key = (target, "culture", 0.0) if (target, "culture", 0.0) in points else (target, "global", 0.0)
        rows.append({"target": target, "local_auc": float(np.mean([auc(y[key], q, None) for q in full["local"]])),
                     "pooled_auc": float(np.mean([auc(y[key], q, None) for q in full["global"]])),
                     "gain": iv.estimate, "ci_low": iv.low, "ci_high": iv.high, "p_value": p,
                     "zero_shot_auc": float(np.mean([auc(y[zero_key], q, None) for q in zero])) if zero else np.nan})
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["p_adjusted"] = benjamini_hochberg(frame["p_value"].to_numpy())
    return frame


def summarise_transfer(runs: pd.DataFrame, targets: Sequence[str], arms: Sequence[str] = ARMS,
                       intervals: pd.DataFrame | None = None) -> TransferCurves:
    """Mean curves over seeds (with ``intervals``, from :func:`user_intervals`, their user-bootstrap intervals; else
    logit-scale t intervals over seeds), and the data-equivalent value of the foreign data: how many of the
    target's own rows the local model needs for the same AUC (NaN with ``reached`` False where it never gets
    there with all of them)."""
    keys = ["target", "arm", "fraction"]
    if intervals is not None and not intervals.empty:
        summary = intervals.copy()
    else:
        summary = runs.groupby(keys)["roc_auc"].apply(_mean_ci).unstack().reset_index()
    summary = summary.merge(runs.groupby(keys)["n_target_rows"].mean().rename("n_target_rows").reset_index(), on=keys)
    equivalent = []
    for target in targets:
        local = summary[(summary["target"] == target) & (summary["arm"] == "local")]
        for arm in [a for a in arms if a != "local"]:
            for _, r in summary[(summary["target"] == target) & (summary["arm"] == arm)].iterrows():
                need = rows_needed(local["n_target_rows"].to_numpy(), local["value"].to_numpy(), r["value"])
                reached = bool(np.isfinite(need))
                equivalent.append({"target": target, "arm": arm, "fraction": r["fraction"], "auc": r["value"],
                                   "n_target_rows": r["n_target_rows"],
                                   "local_rows_needed": need if reached else np.nan,
                                   "foreign_data_worth_rows": need - r["n_target_rows"] if reached else np.nan,
                                   "reached": reached, "local_rows_available": float(local["n_target_rows"].max())
                                   if len(local) else np.nan})
    return TransferCurves(runs, summary, pd.DataFrame(equivalent))
