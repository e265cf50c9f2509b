"""Calibration replicates: new labels on the study's own rows, drawn from its fitted RQ4 model, re-analysed.

A parametric bootstrap, not a new simulator: the estimation rows, their offer features, countries and users
stay as they are; only the purchase labels are redrawn, from

* the **null** model: one intercept and one slope per feature for every country (no cultural differences at
  all: a country's baseline and its sensitivities are the pooled ones), fitted on the same rows;
* the **planted** models at scale ``s``: every country's intercept and slopes moved from the null's by ``s``
  times the difference the study's country-interaction logit estimated (``s = 1`` is the fitted model,
  ``0.5`` half its differences, ``2`` twice them). On the linear predictor this is
  ``eta_s = eta_null + s * (eta_fitted - eta_null)``.

Each replicate then runs the study's RQ4 analyses (the country-interaction logit, the Wald heterogeneity
tests, the Hofstede correlations and the literature verdicts) and, when given the study's features, RQ3's
scope comparison on the same rows; :mod:`culturecart.culture.trust` turns many replicates into false-positive
rates, power, minimum detectable effects and the users a country would need.

Example:
    >>> import numpy as np, pandas as pd
    >>> from culturecart.culture.sensitivity import SensitivityDesign
    >>> rng = np.random.default_rng(0)
    >>> n = 4000
    >>> x = pd.DataFrame({"price": rng.normal(size=n)})
    >>> meta = pd.DataFrame({"country": np.repeat(["DE", "FR", "JP", "US"], n // 4),
    ...                      "user_id": (np.arange(n) // 5).astype(str), "session_id": "s", "item_id": "i"})
    >>> design = SensitivityDesign(x, (rng.random(n) < 0.3).astype(int), meta, {})
    >>> gen = fit_generative(design)
    >>> y0 = draw_labels(gen, design, scale=0.0, seed=1)
    >>> y0.shape, set(np.unique(y0)) <= {0, 1}
    ((4000,), True)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import statsmodels.api as sm

from culturecart.culture.hofstede_link import hofstede_correlations, literature_verdicts
from culturecart.culture.sensitivity import (
    SensitivityDesign,
    SensitivityResult,
    country_logit,
    sensitivity_matrix,
)

BASELINE = "baseline_propensity"


@dataclass(frozen=True)
class Generative:
    """The null and the fitted country-interaction logit on the same rows (log-odds per catalogue SD)."""

    countries: tuple[str, ...]
    features: tuple[str, ...]
    null_intercept: float
    null_coef: dict[str, float]
    intercepts: dict[str, float]  # fitted: country -> fixed effect
    coef: dict[str, dict[str, float]]  # fitted: country -> feature -> slope

    def planted(self, scale: float) -> pd.DataFrame:
        """Countries x features (and ``baseline_propensity``) of the model labels are drawn from at ``scale``."""
        rows = {c: {f: self.null_coef[f] + scale * (self.coef[c][f] - self.null_coef[f]) for f in self.features}
                | {BASELINE: self.null_intercept + scale * (self.intercepts[c] - self.null_intercept)}
                for c in self.countries}
        return pd.DataFrame.from_dict(rows, orient="index")[[*self.features, BASELINE]]

    def linear_predictor(self, design: SensitivityDesign, scale: float) -> np.ndarray:
        planted = self.planted(scale)
        country = design.meta["country"].astype(object).to_numpy()
        slopes = planted.loc[country, list(self.features)].to_numpy()
        return planted.loc[country, BASELINE].to_numpy() + (design.x[list(self.features)].to_numpy() * slopes).sum(1)

    def to_dict(self) -> dict:
        return {"countries": list(self.countries), "features": list(self.features),
                "null_intercept": self.null_intercept, "null_coef": self.null_coef, "intercepts": self.intercepts,
                "coef": self.coef}

    @classmethod
    def from_dict(cls, d: dict) -> Generative:
        return cls(tuple(d["countries"]), tuple(d["features"]), float(d["null_intercept"]),
                   {k: float(v) for k, v in d["null_coef"].items()},
                   {k: float(v) for k, v in d["intercepts"].items()},
                   {c: {f: float(v) for f, v in fs.items()} for c, fs in d["coef"].items()})


def design_frame(design: SensitivityDesign) -> pd.DataFrame:
    """The design as one table (features as ``x:<name>``), to store as a unit's result."""
    frame = design.x.add_prefix("x:")
    frame["y"] = design.y
    frame["country"] = design.meta["country"].astype(object).to_numpy()
    frame["user_id"] = design.meta["user_id"].astype(str).to_numpy()
    frame["row"] = design.rows if design.rows is not None else np.arange(len(frame))
    return frame


def design_of(frame: pd.DataFrame) -> SensitivityDesign:
    """The inverse of :func:`design_frame`."""
    x = frame[[c for c in frame.columns if c.startswith("x:")]]
    x.columns = [c[2:] for c in x.columns]
    meta = pd.DataFrame({"country": frame["country"].astype(object).to_numpy(),
                         "user_id": frame["user_id"].astype(str).to_numpy(), "session_id": "", "item_id": ""})
    return SensitivityDesign(x.reset_index(drop=True), frame["y"].to_numpy(np.int64), meta, {},
                             frame["row"].to_numpy(np.int64))


def estimable(design: SensitivityDesign, countries) -> SensitivityDesign:
    """The rows of ``countries`` only (the ones the country-interaction logit could estimate)."""
    keep = design.meta["country"].isin(list(countries)).to_numpy()
    return SensitivityDesign(design.x[keep].reset_index(drop=True), design.y[keep],
                             design.meta[keep].reset_index(drop=True), design.filled,
                             None if design.rows is None else design.rows[keep])


def fit_generative(design: SensitivityDesign, min_rows: int = 100,
                   fitted: SensitivityResult | None = None) -> Generative:
    """Fit the null (pooled) and the country-interaction logit that replicates draw their labels from
    (``fitted``: that logit, when already fitted on ``design``)."""
    fitted = fitted or country_logit(design, min_rows=min_rows)
    rows = estimable(design, fitted.countries)
    features = tuple(rows.x.columns)
    null = sm.Logit(rows.y, sm.add_constant(rows.x.to_numpy(), has_constant="add")).fit(disp=0, method="newton",
                                                                                          maxiter=100)
    wide = fitted.effects.pivot(index="country", columns="feature", values="coef")
    return Generative(tuple(fitted.countries), features, float(null.params[0]),
                      {f: float(v) for f, v in zip(features, null.params[1:], strict=True)},
                      {c: float(v) for c, v in fitted.intercepts.items()},
                      {c: {f: float(wide.loc[c, f]) for f in features} for c in fitted.countries})


def draw_labels(gen: Generative, design: SensitivityDesign, scale: float, seed: int) -> np.ndarray:
    """Purchase labels for ``design``'s rows drawn from the model at ``scale`` (0 = the null)."""
    eta = gen.linear_predictor(design, scale)
    p = 1.0 / (1.0 + np.exp(-eta))
    return (np.random.default_rng(seed).random(len(p)) < p).astype(np.int64)


def replicate_seed(seed: int, scale: float, replicate: int) -> int:
    """A distinct, stable seed per (study seed, scale, replicate)."""
    return int(np.random.SeedSequence([seed, int(round(scale * 1000)), replicate]).generate_state(1)[0])


@dataclass
class RQ3Inputs:
    """What RQ3's scope comparison needs on the estimation rows (see :func:`rq3_inputs`)."""

    data: object  # ModalityData of the design's rows, in the design's order
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    scopes: tuple[str, ...]
    model: str
    options: dict
    profiles: pd.DataFrame
    min_test_rows: int


def analyse_replicate(design: SensitivityDesign, gen: Generative, scale: float, replicate: int, *,
                      profiles: pd.DataFrame, alpha: float = 0.05, literature_alpha: float = 0.1,
                      min_rows: int = 100, seed: int = 0, rq3: RQ3Inputs | None = None) -> dict:
    """Draw one replicate's labels and run RQ4 (and RQ3 when ``rq3`` is given) on them; JSON-able results.

    A replicate the logit cannot fit (a country left with one label, no convergence) is returned with its
    ``error``: it is counted, not hidden.
    """
    from threadpoolctl import threadpool_limits

    rseed = replicate_seed(seed, scale, replicate)
    y = draw_labels(gen, design, scale, rseed)
    out: dict = {"scale": scale, "replicate": replicate, "error": None}
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = country_logit(SensitivityDesign(design.x, y, design.meta, {}), min_rows=min_rows)
        except (ValueError, np.linalg.LinAlgError) as err:
            out["error"] = f"{type(err).__name__}: {err}"
            return out
        corr = hofstede_correlations(sensitivity_matrix(fit), profiles, seed=seed)
        verdicts = literature_verdicts(corr, alpha=literature_alpha)
        out["effects"] = fit.effects[["country", "feature", "coef", "se"]].to_dict("list")
        out["intercepts"] = {k: float(v) for k, v in fit.intercepts.items()}
        out["heterogeneity"] = fit.heterogeneity[["feature", "wald_chi2", "df", "p_value"]].to_dict("list")
        out["hofstede"] = corr[["feature", "dimension", "rho", "p_value"]].to_dict("list")
        out["literature"] = verdicts[["feature", "dimension", "expected_sign", "verdict"]].to_dict("list")
        if rq3 is not None:
            out["rq3"] = _rq3_winners(rq3, y, seed=rseed)
    return out


def _rq3_winners(inputs: RQ3Inputs, y: np.ndarray, seed: int) -> dict:
    from culturecart.culture.rq3 import comparable_countries, score_scopes
    from culturecart.culture.scopes import fit_scope
    from culturecart.models.features import usable_valid

    data = replace(inputs.data, y=y)
    country = data.meta["country"].astype(object).to_numpy()
    test_c, test_y = country[inputs.test], y[inputs.test]
    keep = comparable_countries(test_c, test_y, inputs.min_test_rows)
    if not keep:
        return {"country": [], "winner": [], "p_adjusted": [], "significant": []}
    test = inputs.test[np.isin(test_c, keep)]
    preds = {}
    for scope in inputs.scopes:
        fitted = fit_scope(scope, inputs.model, data.rows(inputs.train), usable_valid(data.rows(inputs.valid)),
                           profiles=inputs.profiles, seed=seed, **inputs.options)
        preds[scope] = np.asarray(fitted.predict_proba(data.rows(test)), float)
    # Only the winners are kept: their DeLong tests need no bootstrap, the per-country CIs are not used.
    w = score_scopes(preds, data.rows(test), inputs.model, metrics=("roc_auc",), n_boot=10, seed=seed).winners
    return {"country": w["country"].tolist(), "winner": w["winner"].tolist(),
            "p_adjusted": w["p_adjusted"].astype(float).tolist(), "significant": w["significant"].astype(bool).tolist()}
