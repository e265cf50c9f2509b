"""Next-item re-ranker for sessions: LightGBM LambdaRank over co-visitation candidates (Amazon-M2 style).

Candidates for a session are the union of the top ``candidates`` items of two co-visitation models, one on the
target locale's sessions and one on the scope's (target plus source locales; the same model when there are no
sources), and the session's own items (a user may return to an item: the re-ranker learns from the training
sessions how often, and for which positions). Each (session, candidate) pair gets sequence-aware features:

* the co-visitation score and rank of each of the two models (recency-weighted over the session's last items);
* the **transition** score from the last item alone (forward, gap 1: what follows it immediately) and from the
  second-last item (gap 1 and 2), on the target and on the scope: the order of the session matters, not only
  which items it holds;
* the co-visitation score over the whole history (slow decay), each score relative to the session's best;
* the candidate's popularity (log count) in the target locale and in the scope, and as a session's last item;
  the session's length; for the session's own items, how many steps from the end and how often it was seen.

Training holds out the last item of the target's training sessions, in ``folds`` folds: the base models are
fitted on the other folds' sessions and the re-ranker learns to put the held-out item first among its
candidates; then the base models are refitted on every training session. With ``repeats=False`` the session's
own items are not candidates and only held-out items new to their session are examples: the next *new* item,
as Amazon-M2's task 2 asks. Test sessions are never read in fitting.

Example:
    >>> sessions = [["a", "b", "c"], ["a", "b", "d"], ["x", "b", "c"], ["a", "c", "d"]] * 10
    >>> r = SessionReRanker(trees=5, folds=2).fit(sessions)
    >>> r.recommend([["a", "b"]], k=2)[0][0] in {"c", "d"}
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from culturecart.parallel import thread_budget
from culturecart.persist import Files, check_is_fitted, save_npz
from culturecart.ranking.sessions import CoVisitation, CoVisitationConfig, _SessionModel, ranked_lists

FEATURES = ("s_target", "r_target", "s_scope", "r_scope", "next_target", "next_scope", "prev_target",
            "prev_scope", "final_target", "final_scope", "all_target", "s_target_rel", "s_scope_rel", "pop_target",
            "pop_scope", "final_pop_target", "length", "in_session", "age", "count_in_session")


@dataclass
class _Bases:
    target: CoVisitation
    scope: CoVisitation
    next_target: CoVisitation
    next_scope: CoVisitation
    final_target: CoVisitation
    final_scope: CoVisitation
    all_target: CoVisitation
    pop_target: pd.Series
    pop_scope: pd.Series
    final_pop_target: pd.Series


_COUNTS = ("pop_target", "pop_scope", "final_pop_target")


def _counts(items: Sequence[str]) -> pd.Series:
    return np.log1p(pd.Series(list(items), dtype=object).value_counts(sort=False))


class SessionReRankerConfig(BaseModel):
    """The session re-ranker's options (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    candidates: int = Field(100, ge=1, description="candidates per co-visitation model")
    folds: int = Field(3, ge=2, description="folds of the training sessions' held-out last items")
    trees: int = Field(300, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    seed: int = 0
    covisit: CoVisitationConfig = Field(default_factory=CoVisitationConfig,
                                        description="settings of the two candidate co-visitation models")
    repeats: bool = Field(True, description="the session's own items are candidates; False: only new items "
                                            "(Amazon-M2's task 2)")


class SessionReRanker(_SessionModel):
    """``fit(sessions, sources)`` / ``recommend(histories, k)``, as :class:`CoVisitation` (module docstring)."""

    kind = "session:rerank"
    config_class = SessionReRankerConfig

    def _bases(self, target: Sequence[Sequence[str]], sources: Sequence[Sequence[str]]) -> _Bases:
        scope = list(target) + list(sources)
        covisit = self.config.covisit.model_dump()
        covis = CoVisitation(**covisit).fit(target)
        pooled = CoVisitation(**covisit).fit(scope) if len(sources) else covis
        # The immediate successor: forward, one step, from one item; window 2 for the item before last.
        nxt = {"window": 2, "backward_weight": 0.0, "recent": 1, "decay": 1.0}
        next_target = CoVisitation(**nxt).fit(target)
        next_scope = CoVisitation(**nxt).fit(scope) if len(sources) else next_target
        # A session's last step (the item before the next item -> the next item), the step the task predicts.
        finals = [list(x)[-2:] for x in target if len(x) >= 2]
        final_target = CoVisitation(**nxt).fit(finals)
        final_scope = CoVisitation(**nxt).fit(finals + [list(x)[-2:] for x in sources if len(x) >= 2]) \
            if len(sources) else final_target
        every = CoVisitation(**{**covisit, "recent": 50, "decay": 0.9}).fit(target)
        return _Bases(covis, pooled, next_target, next_scope, final_target, final_scope, every,
                      _counts(i for x in target for i in x), _counts(i for x in scope for i in x),
                      _counts(list(x)[-1] for x in target if len(x)))

    def _frame(self, bases: _Bases, histories: Sequence[Sequence[str]]) -> pd.DataFrame:
        """Candidates of every history with their features (columns q, item, *FEATURES)."""
        c = self.config
        parts = {}
        for name, model in (("target", bases.target), ("scope", bases.scope)):
            s = model.scores(histories)
            s = s[s.groupby("q", sort=False).cumcount() < c.candidates]
            parts[name] = s.assign(rank=s.groupby("q", sort=False).cumcount() + 1.0).rename(
                columns={"score": f"s_{name}", "rank": f"r_{name}"})
        frame = parts["target"].merge(parts["scope"], on=["q", "item"], how="outer")
        # The session's own items are candidates too: where the target is the last item viewed (sessions of
        # Amazon-M2's task 3), users return to an item they saw; its age (steps from the end) says how recently.
        own = pd.DataFrame([(q, item, age) for q, h in enumerate(histories) if c.repeats
                            for age, item in enumerate(reversed(list(h)))], columns=["q", "item", "age"])
        own = own.groupby(["q", "item"], sort=False).agg(age=("age", "min"), count_in_session=("age", "size"))
        own = own.reset_index().assign(in_session=1.0)
        frame = frame.merge(own, on=["q", "item"], how="outer")
        frame = frame.fillna({"in_session": 0.0, "age": -1.0, "count_in_session": 0.0})
        last = [list(h)[-1:] for h in histories]
        prev = [list(h)[-2:-1] for h in histories]
        lookups = [(bases.next_target, "next_target", last), (bases.next_scope, "next_scope", last),
                   (bases.next_target, "prev_target", prev), (bases.next_scope, "prev_scope", prev),
                   (bases.final_target, "final_target", last), (bases.final_scope, "final_scope", last),
                   (bases.all_target, "all_target", histories)]
        for model, col, query in lookups:
            s = model.scores(query).rename(columns={"score": col})
            frame = frame.merge(s, on=["q", "item"], how="left")
        frame[["r_target", "r_scope"]] = frame[["r_target", "r_scope"]].fillna(c.candidates + 1.0)
        frame = frame.fillna({c: 0.0 for c in FEATURES if c.startswith(("s_", "next_", "prev_", "final_", "all_"))})
        for name in ("target", "scope"):  # the score relative to the session's best candidate
            best = frame.groupby("q")[f"s_{name}"].transform("max").to_numpy()
            frame[f"s_{name}_rel"] = np.where(best > 0, frame[f"s_{name}"].to_numpy() / np.maximum(best, 1e-12), 0.0)
        for col, counts in (("pop_target", bases.pop_target), ("pop_scope", bases.pop_scope),
                            ("final_pop_target", bases.final_pop_target)):
            frame[col] = counts.reindex(frame["item"]).fillna(0.0).to_numpy()
        frame["length"] = np.array([len(h) for h in histories], float)[frame["q"].to_numpy()]
        return frame.sort_values(["q", "item"], kind="stable").reset_index(drop=True)

    def fit(self, sessions: Sequence[Sequence[str]], sources: Sequence[Sequence[str]] = ()) -> SessionReRanker:
        """``sessions``: the target locale's training sessions (items in order, the next item last); ``sources``:
        other locales' sessions pooled into the scope (none: a local model)."""
        c = self.config
        sessions = [list(s) for s in sessions if len(s)]
        fold = np.random.default_rng(c.seed).integers(0, c.folds, len(sessions))
        usable = np.array([len(s) >= 2 and (c.repeats or s[-1] not in s[:-1]) for s in sessions])
        frames = []
        for k in range(c.folds):  # each session's last item is predicted by bases fitted on the other folds
            inner = [s for s, f in zip(sessions, fold, strict=True) if f != k]
            held = [s for s, f, u in zip(sessions, fold, usable, strict=True) if f == k and u]
            answers = np.array([s[-1] for s in held], dtype=object)
            part = self._frame(self._bases(inner, sources), [s[:-1] for s in held])
            part["label"] = (part["item"].to_numpy() == answers[part["q"].to_numpy()]).astype(int)
            frames.append(part.assign(q=part["q"] + k * len(sessions)))
        frame = pd.concat(frames, ignore_index=True)
        frame = frame[frame.groupby("q")["label"].transform("max") > 0]  # lists without the answer teach nothing
        groups = frame.groupby("q", sort=False).size().to_numpy()
        params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "learning_rate": c.learning_rate,
                  "num_leaves": 31, "min_data_in_leaf": 50, "feature_fraction": 0.9, "lambdarank_truncation_level": 30,
                  "verbose": -1, "deterministic": True, "force_row_wise": True, "seed": c.seed,
                  "num_threads": thread_budget()}
        data = lgb.Dataset(frame[list(FEATURES)].to_numpy(np.float32), frame["label"].to_numpy(), group=groups,
                           feature_name=list(FEATURES))
        self.booster_ = lgb.train(params, data, num_boost_round=c.trees)
        self.bases_ = self._bases(sessions, sources)
        self.popular_ = self.bases_.scope.popular_
        return self

    def recommend(self, histories: Sequence[Sequence[str]], k: int = 100) -> list[list[str]]:
        """Top ``k`` items for each history: the re-ranked candidates, then the scope's most popular items."""
        check_is_fitted(self)
        frame = self._frame(self.bases_, histories)
        frame["p"] = self.booster_.predict(frame[list(FEATURES)].to_numpy(np.float32))
        frame = frame.sort_values(["q", "p", "item"], ascending=[True, False, True], kind="stable")
        return ranked_lists(frame, histories, self.popular_, k)

    def _save_state(self, folder: Path) -> dict:
        for f in fields(_Bases):
            value = getattr(self.bases_, f.name)
            if isinstance(value, CoVisitation):
                value.write_into(folder / "bases" / f.name)
        save_npz(folder / "counts.npz", {f"{name}.{part}": np.asarray(values, dtype=str if part == "items" else float)
                                         for name in _COUNTS
                                         for part, values in (("items", getattr(self.bases_, name).index.astype(str)),
                                                              ("values", getattr(self.bases_, name).to_numpy()))})
        (folder / "booster.txt").write_text(self.booster_.model_to_string(), encoding="utf-8")
        return {"popular": [str(i) for i in self.popular_]}

    @classmethod
    def _from_state(cls, config: SessionReRankerConfig, state: dict, files: Files) -> SessionReRanker:
        model = cls(config)
        counts = files.npz("counts.npz")
        parts = {f.name: files.fitted(f"bases/{f.name}", CoVisitation) for f in fields(_Bases)
                 if f.name not in _COUNTS}
        parts.update({name: pd.Series(counts[f"{name}.values"], index=counts[f"{name}.items"].astype(object))
                      for name in _COUNTS})
        model.bases_ = _Bases(**parts)
        model.booster_ = files.lightgbm("booster.txt")
        model.popular_ = list(state["popular"])
        return model
