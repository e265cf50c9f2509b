"""How the study's stages run together: a typed context they share, and the driver that runs their units.

A stage is a generator: it yields a list of :class:`~culturecart.study.store.Unit` whenever it needs results and
receives them back in order; what it returns is its part of the tidy results table. :func:`drive` runs all stages
together: each round collects every stage's next units into one parallel batch (the costliest first), so
the RQ1 grid, the RQ3 scopes, the RQ4 logit, the RQ5 learning curves and the matching folds all share the
workers, and a stage waiting on another (RQ2 on RQ1's models, RQ4's partial dependence on RQ3's global
model) simply yields nothing until the other has published.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from culturecart.study.store import Unit, UnitStore

if TYPE_CHECKING:
    from culturecart.data.dataset import Dataset
    from culturecart.evaluate.splits import Split
    from culturecart.models.features import ModalityData
    from culturecart.study.config import StudyConfig

TIDY_COLUMNS = ["question", "model", "scope", "country", "modalities", "feature", "dimension", "fraction", "metric",
                "value", "ci_low", "ci_high", "test", "p_value", "p_adjusted"]

Stage = Generator[list[Unit], list[Any], "pd.DataFrame | None"]


@dataclass
class StageContext:
    """What every stage of one study reads: the settings, the data and its features, the culture split and
    profiles (when there are countries), the unit store, the results being assembled, the model publisher and
    the message line."""

    cfg: StudyConfig
    base: dict  # what every unit's key holds: the data's content key, encoders, seed...
    store: UnitStore
    res: Any  # culturecart.study.run.StudyResults
    say: Callable[[str], None]
    data: ModalityData | None = None
    ds: Dataset | None = None
    emb: dict | None = None
    publish: Any = None  # culturecart.study.run.Publisher
    split: Split | None = None  # the culture analyses' split (RQ3-RQ5)
    profiles: pd.DataFrame | None = None
    cache: str | None = None  # the study's embedding cache (the matching folds read it)


def tidy(frame: pd.DataFrame, **constants: Any) -> pd.DataFrame:
    out = frame.copy()
    for k, v in constants.items():
        out[k] = v
    for col in TIDY_COLUMNS:
        if col not in out:
            out[col] = np.nan
    return out[TIDY_COLUMNS]


def drive(stages: list[Stage], store: UnitStore, say) -> list[pd.DataFrame | None]:
    """Run the stages' units round by round (see the module docstring); returns each stage's table, in order."""
    outputs: list[pd.DataFrame | None] = [None] * len(stages)
    replies: dict[int, list[Any] | None] = {i: None for i in range(len(stages))}
    while replies:
        asked: dict[int, list[Unit]] = {}
        for i in list(replies):  # in stage order: a stage publishes before the ones after it look
            try:
                asked[i] = stages[i].send(replies[i])
            except StopIteration as stop:
                outputs[i] = stop.value
                del replies[i]
        batch = [u for units in asked.values() for u in units]
        values = store.run(batch, say, label="+".join(dict.fromkeys(u.stage for u in batch))) if batch else []
        for i, units in asked.items():
            replies[i], values = values[:len(units)], values[len(units):]
    return outputs
