"""One registry shape: every registry resolves names the same way and refuses an unknown one with one error that
lists the choices; the CLI help lists them from the same descriptions."""

from __future__ import annotations

import pytest

from culturecart.data.adapters import ADAPTERS
from culturecart.encoders.registry import ENCODERS
from culturecart.errors import ConfigError
from culturecart.evaluate.metrics import METRICS
from culturecart.models.registry import MODELS
from culturecart.persist import FITTED
from culturecart.ranking.registry import RANKERS
from culturecart.registry import Registry, UnknownNameError
from tests.helpers import invoke

REGISTRIES = {"model": MODELS, "encoder": ENCODERS, "ranker": RANKERS, "metric": METRICS, "format": ADAPTERS,
              "fitted kind": FITTED}


@pytest.mark.parametrize("what", sorted(REGISTRIES))
def test_every_registry_has_the_one_shape(what):
    registry = REGISTRIES[what]
    assert isinstance(registry, Registry) and registry.what == what
    for entry in registry.entries:
        assert entry.description and ":" in entry.target
        assert registry.load(entry.name) is entry.load()  # imported on use, the same object every time
        for alias in (entry.name.upper(), entry.name.replace("-", "_"), f"  {entry.name} ", *entry.aliases):
            assert registry.resolve(alias) is entry
    with pytest.raises(UnknownNameError) as caught:
        registry.resolve("no-such-name")
    assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2
    assert f"unknown {what} 'no-such-name'; choose one of: {registry.entries[0].name} (" in str(caught.value)


def test_patterns_stand_for_families_of_names():
    assert METRICS.resolve("NDCG@5").name == "ndcg@5" and METRICS.resolve("recall_at_20").name == "recall@20"
    assert "ndcg@10 (a ranking metric at a cut-off" in METRICS.choices()


def _help(*args: str) -> str:
    """The help text of a command as one line of words (the panels' borders and line breaks taken out)."""
    import re

    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", invoke(*args, "--help", exit_code=0).output).split())


def test_the_help_lists_the_choices_from_the_registries():
    assert "lightgbm (gradient-boosted trees" in _help("fit")
    assert "rerank (LightGBM LambdaRank" in _help("xmarket", "fit")
    assert "online-retail" in _help("convert") and "UCI Online Retail" in _help("convert")
    res = invoke("fit", "x", "--out", "y", "--model", "bert", exit_code=2, names=("unknown model 'bert'",))
    assert "lr" not in res.output.split("choose one of:")[1].split(",")  # names, not every alias
