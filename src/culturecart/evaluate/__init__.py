"""Evaluation: metrics by name, bootstrap confidence intervals, paired tests, splits, the RQ1 grid."""

from culturecart.evaluate.bootstrap import Interval, bootstrap_ci, paired_bootstrap_delta
from culturecart.evaluate.delong import DeLongResult, delong_test
from culturecart.evaluate.metrics import get_metric, get_metric_spec, reliability_curve

__all__ = ["DeLongResult", "Interval", "bootstrap_ci", "delong_test", "get_metric", "get_metric_spec",
           "paired_bootstrap_delta", "reliability_curve"]
