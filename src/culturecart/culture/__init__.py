"""Culture analyses: model scopes (RQ3), transfer curves (RQ5), sensitivities mapped to Hofstede (RQ4)."""

from culturecart.culture.conditioning import with_culture, without_country
from culturecart.culture.fit_score import cultural_fit_interval, cultural_fit_score
from culturecart.culture.hofstede_link import (
    alignment_scores,
    hofstede_correlations,
    literature_verdicts,
    permutation_spearman,
)
from culturecart.culture.literature import literature_table
from culturecart.culture.rq3 import ScopeComparison, compare_scopes
from culturecart.culture.scopes import SCOPES, ScopedModel, fit_scope
from culturecart.culture.sensitivity import (
    SensitivityDesign,
    SensitivityResult,
    country_logit,
    pd_sensitivity,
    sensitivity_design,
    sensitivity_matrix,
)
from culturecart.culture.transfer import ARMS, TransferCurves, learning_curves, rows_needed

__all__ = [
    "ARMS", "SCOPES", "ScopeComparison", "ScopedModel", "SensitivityDesign", "SensitivityResult", "TransferCurves",
    "alignment_scores", "compare_scopes", "country_logit", "cultural_fit_interval", "cultural_fit_score",
    "fit_scope", "hofstede_correlations", "learning_curves", "literature_table", "literature_verdicts",
    "pd_sensitivity", "permutation_spearman", "rows_needed", "sensitivity_design", "sensitivity_matrix",
    "with_culture", "without_country",
]
