from __future__ import annotations

import subprocess
import sys

import pytest

from culturecart.errors import ConfigError
from culturecart.models.registry import LADDER, MODELS, check_options, model_spec, needs_raw_text
from culturecart.persist import FITTED
from culturecart.registry import UnknownNameError


@pytest.mark.parametrize("spec", LADDER, ids=lambda s: s.name)
def test_each_rung_names_its_class_config_and_raw_text_use(spec):
    assert spec.cls.config_class is spec.config
    assert getattr(spec.cls, "reads_raw_text", False) == spec.reads_raw_text
    assert FITTED.load(spec.cls.kind) is spec.cls  # what a saved model records loads it back


def test_model_classes_by_saved_kind():
    kinds = {spec.cls.kind for spec in LADDER}
    assert len(kinds) == 6 and kinds <= set(FITTED.names())
    with pytest.raises(UnknownNameError, match="unknown model 'no_such_model'; choose one of: logistic"):
        MODELS.resolve("no_such_model")


def test_names_and_options_are_checked_without_the_model_code():
    """A study configuration is read and checked before the command line imports torch or LightGBM."""
    code = ("import sys\n"
            "from culturecart.study.config import load_config\n"
            "load_config(None, 'twin', ['rq1.model_options.transformer.epochs=3'])\n"
            "from culturecart.models.registry import check_options, needs_raw_text\n"
            "check_options('lgbm', {'num_leaves': 7}); assert needs_raw_text(['tfidf'])\n"
            "print(sorted(m for m in ('torch', 'lightgbm', 'sklearn') if m in sys.modules))\n")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "[]"


def test_wrong_options_name_the_model_and_key():
    with pytest.raises(ConfigError, match="transformer: d_modle: unknown option"):
        check_options("mmbt", {"d_modle": 8})
    assert model_spec("GBDT").name == "lightgbm" and not needs_raw_text(["mlp", "transformer"])
