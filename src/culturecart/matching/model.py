"""The matching model: ``fit`` learns the ArcFace head, every threshold and the pair scorer (GroupKFold inside the
training file); ``predict`` never reads labels. Saved under the persistence contract (``matching.json``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from culturecart.errors import InvalidInputError, UsageError
from culturecart.matching.arcface import TitleHead
from culturecart.matching.config import MatchingConfig
from culturecart.matching.neighbours import MAX_MATCHES
from culturecart.matching.pairs import PairScorer
from culturecart.matching.tuning import fit_pair_scorer, predict_rows, tune_thresholds
from culturecart.matching.views import Views, compute_views, text_inputs, used_components
from culturecart.persist import Files, Fitted, check_is_fitted

PREDICT_STEPS = 2  # the calls MatchingModel.predict makes to its progress callback


class MatchingModel(Fitted):
    """``fit`` learns the ArcFace head and every threshold (GroupKFold inside the training file);
    ``predict`` never reads labels."""

    kind = "matching"
    config_class = MatchingConfig
    fitted_attribute = "thresholds_"
    unsaved_options = frozenset({"embedding_cache"})

    def __init__(self, config: MatchingConfig | None = None, **options: object) -> None:
        self.config = self.make_config(config, **options)
        self.head_: TitleHead | None = None
        self.scorer_: PairScorer | None = None
        self.thresholds_: dict[str, float] | None = None

    def __repr__(self) -> str:
        state = f"thresholds {self.thresholds_}" if self.is_fitted() else "not fitted"
        return f"MatchingModel(text_encoder={self.config.text_encoder!r}, steps={self.config.steps}; {state})"

    def _head(self, frame: pd.DataFrame, x: np.ndarray, seed: int) -> TitleHead:
        return TitleHead.fit(frame["title"].fillna("").astype(str), x, frame["label_group"].astype(str).to_numpy(),
                             self.config, seed)

    def fit_steps(self, frame: pd.DataFrame) -> int:
        """How many times :meth:`fit` calls its ``progress`` on ``frame`` (inner folds, tuning, scorer, head)."""
        inner = min(self.config.inner_folds, frame["label_group"].nunique()) if "label_group" in frame else 0
        return inner + 1 + int(self.config.steps.pair_model) + int(self.config.steps.arcface)

    def fit(self, frame: pd.DataFrame, images: Path | None = None, progress=None) -> MatchingModel:
        """Tune on inner folds and fit the final head; ``progress(detail)`` is called :meth:`fit_steps` times."""
        if "label_group" not in frame:
            raise InvalidInputError("matching fit needs a label_group column")
        say = progress or (lambda detail: None)
        folds, x = self.inner_views(frame, images, say)
        self.thresholds_ = tune_thresholds(folds, self.config.steps)
        say("thresholds tuned")
        if self.config.steps.pair_model:
            self.scorer_ = fit_pair_scorer(folds, self.thresholds_, self.config.steps, self.config.seed)
            say("pair scorer fitted")
        self.head_ = self._head(frame, x, self.config.seed) if self.config.steps.arcface else None
        if self.config.steps.arcface:
            say("ArcFace head trained")
        return self

    def inner_views(self, frame: pd.DataFrame, images: Path | None = None,
                    progress=None) -> tuple[list[tuple[Views, np.ndarray]], np.ndarray]:
        """Validation views of each inner GroupKFold fold (head trained on the other folds), and the text inputs."""
        c = self.config
        labels = frame["label_group"].astype(str).to_numpy()
        n_groups = len(np.unique(labels))
        if c.inner_folds < 2:
            raise UsageError(f"inner_folds must be at least 2 (GroupKFold), got {c.inner_folds}")
        n_inner = min(c.inner_folds, n_groups)
        if n_inner < 2:
            raise InvalidInputError(f"matching fit needs at least 2 label groups, got {n_groups}")
        x = text_inputs(frame["title"].fillna("").astype(str), c.text_encoder, c.embedding_cache)
        folds = []
        for f, (tr, va) in enumerate(GroupKFold(n_splits=n_inner).split(x, groups=labels)):
            head = self._head(frame.iloc[tr], x[tr], c.seed + f) if c.steps.arcface else None
            views = compute_views(frame.iloc[va].reset_index(drop=True), c, head, images, inputs=x[va])
            folds.append((views, np.unique(labels[va], return_inverse=True)[1]))
            if progress:
                progress(f"inner fold {f + 1}/{n_inner} ready")
        return folds, x

    def predict(self, frame: pd.DataFrame, images: Path | None = None, progress=None) -> pd.DataFrame:
        """posting_id and its matches; ``progress(detail)`` is called ``PREDICT_STEPS`` times."""
        check_is_fitted(self)
        say = progress or (lambda detail: None)
        views = compute_views(frame, self.config, self.head_, images, components=used_components(self.config.steps))
        say(f"embeddings and neighbours of {len(frame):,} listings")
        rows = predict_rows(views, self.thresholds_, self.config.steps, self.scorer_)
        say("matches decided")
        ids = frame["posting_id"].astype(str).to_numpy()
        return pd.DataFrame({"posting_id": ids, "matches": [" ".join(ids[r][:MAX_MATCHES]) for r in rows]})

    def _save_state(self, folder: Path) -> dict:
        if self.head_ is not None:
            self.head_.save(folder)
        if self.scorer_ is not None:
            self.scorer_.save(folder)
        return {"thresholds": self.thresholds_}

    @classmethod
    def _from_state(cls, config: MatchingConfig, state: dict, files: Files) -> MatchingModel:
        model = cls(config)
        model.thresholds_ = {str(k): float(v) for k, v in state["thresholds"].items()}
        if files.exists("arcface.safetensors"):
            model.head_ = TitleHead.load(files, dim=config.arcface_dim)
        if files.exists("pair_scorer.json"):
            model.scorer_ = PairScorer.load(files)
        if config.steps.pair_model and model.scorer_ is None:
            raise InvalidInputError(f"matching model folder {files.folder} is incomplete: its config uses the pair "
                                    "model but pair_scorer.json is missing; fit it again with `culturecart match fit`")
        return model

    @classmethod
    def legacy_header(cls, raw: dict, folder: Path) -> dict:
        """``matching.json`` of culturecart before the persistence contract (models saved before the pair model had
        none)."""
        config = dict(raw["config"])
        config["steps"] = {"pair_model": False, **config["steps"]}
        return {"kind": "matching", "format": 0, "config": config, "state": {"thresholds": raw["thresholds"]},
                "files": {}}
