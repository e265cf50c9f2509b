"""The purchase utility model: rules that turn a Hofstede profile into country sensitivities.

See ``rules.yaml`` for the formula, the default sizes and their sources.

Example:
    >>> rules = load_rules()
    >>> from culturecart.data.hofstede import shipped_hofstede
    >>> beta = country_sensitivities(rules, shipped_hofstede().loc[["DE", "MX"]])
    >>> bool(beta.loc["MX", "brand_premium"] > beta.loc["DE", "brand_premium"])  # PDI 81 vs 35
    True
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from culturecart.config_files import load_model_file
from culturecart.data.hofstede import DIMENSIONS

HOFSTEDE_CENTRE = 50.0
HOFSTEDE_SCALE = 25.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_dims(weights: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(weights) - set(DIMENSIONS))
    if unknown:
        raise ValueError(f"unknown Hofstede dimension(s) {unknown}; valid: {list(DIMENSIONS)}")
    return weights


class FeatureRule(_Strict):
    description: str
    base: float
    hofstede: dict[str, float] = Field(default_factory=dict)
    source: str = ""

    _dims = field_validator("hofstede")(_check_dims)


class InterceptRule(_Strict):
    base: float
    hofstede: dict[str, float] = Field(default_factory=dict)
    source: str = ""

    _dims = field_validator("hofstede")(_check_dims)


class BehaviourRule(_Strict):
    position_bias_eta: float = Field(ge=0)
    click_intercept: float
    click_share: float = Field(ge=0, le=1)
    user_effect_sd: float = Field(ge=0)
    affinity_sd: float = Field(ge=0)


class UtilityRules(_Strict):
    """The whole rule set (validated; unknown keys are errors that name the key)."""

    features: dict[str, FeatureRule]
    intercept: InterceptRule
    behaviour: BehaviourRule


def load_rules(path: str | Path | None = None) -> UtilityRules:
    """Rules from a YAML file, or the package defaults."""
    if path is None:
        text = resources.files("culturecart.data.simulate").joinpath("rules.yaml").read_text("utf-8")
        return UtilityRules.model_validate(yaml.safe_load(text))
    return load_model_file(UtilityRules, path, "rules file")


def hofstede_z(profiles: pd.DataFrame) -> pd.DataFrame:
    """Hofstede scores on the rules' fixed scale: (score - 50) / 25 (independent of the country set)."""
    return (profiles[list(DIMENSIONS)].astype(float) - HOFSTEDE_CENTRE) / HOFSTEDE_SCALE


def country_sensitivities(rules: UtilityRules, profiles: pd.DataFrame,
                          heterogeneity_scale: float = 1.0) -> pd.DataFrame:
    """beta[c, k] = base[k] * exp(scale * sum_d w[k, d] z[c, d]); one row per country."""
    z = hofstede_z(profiles)
    out = {}
    for name, rule in rules.features.items():
        log_mult = sum((w * z[d] for d, w in rule.hofstede.items()), start=pd.Series(0.0, index=z.index))
        out[name] = rule.base * np.exp(heterogeneity_scale * log_mult)
    return pd.DataFrame(out, index=profiles.index)


def country_intercepts(rules: UtilityRules, profiles: pd.DataFrame,
                       heterogeneity_scale: float = 1.0) -> pd.Series:
    """alpha[c] = base + scale * sum_d w[d] z[c, d]."""
    z = hofstede_z(profiles)
    shift = sum((w * z[d] for d, w in rules.intercept.hofstede.items()), start=pd.Series(0.0, index=z.index))
    return rules.intercept.base + heterogeneity_scale * shift
