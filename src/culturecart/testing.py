"""Small data for docstrings, tests and quick checks, and the tiny fitted objects the contract suite is run on.

As scikit-learn's ``utils._testing``: nothing here is used by the library itself. :data:`BUILDERS` has a builder for
every kind registered in :data:`culturecart.persist.FITTED`: ``build(kind)`` returns a :class:`Built` (the fitted
object on tiny data, the data it predicts on, and how to get its predictions). The contract suite
(``tests/test_contract.py``) runs over every registered kind and fails for a kind without a builder.

Example:
    >>> tiny_data().n, sorted(toy_markets().names)
    (40, ['aa', 'bb'])
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from culturecart.models.features import ModalityData
from culturecart.ranking.markets import Market, Markets, leave_one_out


def tiny_data(n: int = 40, seed: int = 0) -> ModalityData:
    """A 40-row, two-country example (offer and consumer blocks) for docstrings and quick checks."""
    rng = np.random.default_rng(seed)
    country = np.where(np.arange(n) % 2 == 0, "DE", "JP")
    x = rng.normal(size=(n, 2)).astype(np.float32)
    consumer = np.column_stack([x[:, :1], country == "DE", country == "JP"]).astype(np.float32)
    y = (x[:, 0] + rng.normal(size=n) > 0).astype(np.int64)
    return ModalityData(blocks={"offer": x, "consumer": consumer},
                        names={"offer": ["price", "rating"], "consumer": ["age", "country=DE", "country=JP"]},
                        present={"offer": np.ones(n, bool), "consumer": np.ones(n, bool)}, y=y,
                        meta=pd.DataFrame({"country": country, "user_id": [f"u{i}" for i in range(n)],
                                           "session_id": [f"s{i}" for i in range(n)],
                                           "item_id": [f"i{i % 7}" for i in range(n)]}),
                        kinds={"offer": "tabular", "consumer": "tabular"})


def flat_table(n_users: int = 150, seed: int = 0) -> pd.DataFrame:
    """A simulated marketplace exported as one flat table, as a user's own data often comes: one row per shown
    offer with ``bought``, ``customer``, ``sku``, ``nation``, ``age``, ``price``, ``discount``, ``category``,
    ``title``, ``when`` and ``dwell`` (no session column: sessions are derived)."""
    from culturecart.data.simulate import SimulationConfig, simulate_marketplace

    ds = simulate_marketplace(SimulationConfig(n_users=n_users, n_products=40, countries=["KR", "US", "DE"],
                                               seed=seed))
    ev = ds.events.merge(ds.users[["user_id", "country", "age"]], on="user_id", how="left")
    ev = ev.merge(ds.items[["item_id", "price", "discount_rate", "category", "title"]], on="item_id", how="left")
    return pd.DataFrame({"bought": ev["purchased"].astype(bool), "customer": ev["user_id"], "sku": ev["item_id"],
                         "nation": ev["country"], "age": ev["age"], "price": ev["price"],
                         "discount": ev["discount_rate"], "category": ev["category"], "title": ev["title"],
                         "when": ev["timestamp"].astype(str), "dwell": ev["dwell_time_s"]})


def write_partitioned(ds, folder, files: int = 3, rows_per_group: int | None = None):
    """Save dataset ``ds`` into ``folder`` with its events as a folder ``events/`` of ``files`` Parquet files,
    dealt row by row (so every user's sessions are spread over the files; ``rows_per_group`` sets the Parquet row
    groups). Returns the folder."""
    from pathlib import Path

    folder = Path(folder)
    events = ds.events
    ds.events = None
    try:
        ds.save(folder)
    finally:
        ds.events = events
    (folder / "events").mkdir()
    deal = np.arange(len(events)) % files
    for k in range(files):
        events[deal == k].to_parquet(folder / "events" / f"part-{k}.parquet", index=False,
                                     row_group_size=rows_per_group)
    return folder


def tiny_predictor_and_data(users: int = 60, seed: int = 0):
    """A small LightGBM predictor and a dataset folder to score whose events are split over three Parquet files
    (``events/``): the streaming scorer's example."""
    import tempfile

    from culturecart.data.simulate import SimulationConfig, simulate_marketplace
    from culturecart.predictor import PurchasePredictor

    train = simulate_marketplace(SimulationConfig(n_users=users, n_products=20, countries=["KR", "US"], seed=seed))
    new = simulate_marketplace(SimulationConfig(n_users=users // 2, n_products=20, countries=["KR", "US"],
                                                seed=seed + 1))
    fast = {"text": {"name": "char-hash"}, "image": {"name": "image-hash"}}
    predictor = PurchasePredictor("lightgbm", encoders=fast, n_estimators=20, embedding_dim=4).fit(train)
    return predictor, write_partitioned(new, tempfile.mkdtemp(prefix="culturecart-") + "/data")


def toy_markets() -> Markets:
    """Two tiny markets sharing items, for examples and quick checks."""
    aa = pd.DataFrame({"userId": ["u1", "u1", "u2", "u2", "u3"], "itemId": ["i1", "i2", "i1", "i3", "i2"],
                       "rating": 5.0})
    bb = pd.DataFrame({"userId": ["v1", "v1", "v2"], "itemId": ["i1", "i3", "i3"], "rating": 4.0})
    return Markets(None, {"aa": Market("aa", aa), "bb": Market("bb", bb)})


def small_markets(users: int = 24, items: int = 30, seed: int = 0, negatives: int | None = None) -> Markets:
    """Two markets (``aa``, ``bb``) with taste clusters over shared items: enough for every ranker to learn. With
    ``negatives``, each is split leave-one-out (the last two of a user's rows are the valid and test positives,
    each among ``negatives`` sampled items), as ``xmarket split`` splits."""
    rng = np.random.default_rng(seed)
    frames = {}
    for name, n_users in (("aa", users), ("bb", users // 2)):
        rows = []
        for u in range(n_users):
            pool = [f"i{j:03d}" for j in range(items) if j % 3 == u % 3]
            rows += [(f"{name}{u:03d}", item, float(rng.integers(1, 6)))
                     for item in rng.choice(pool, size=6, replace=False)]
        frames[name] = Market(name, pd.DataFrame(rows, columns=["userId", "itemId", "rating"]))
        if negatives is not None:
            frames[name] = leave_one_out(frames[name].train.assign(date=0), name, negatives,
                                         np.random.default_rng([seed, *name.encode()]))
    return Markets(None, frames)


def tiny_sessions(n: int = 60, seed: int = 0) -> list[list[str]]:
    """Sessions of item ids with a strong next-item pattern (``a -> b -> c`` chains), for the session models."""
    rng = np.random.default_rng(seed)
    chains = [["a", "b", "c", "d"], ["x", "b", "e"], ["p", "q", "r", "c"]]
    return [list(chains[int(rng.integers(3))][: int(rng.integers(2, 5))]) for _ in range(n)]


@dataclass
class Built:
    """A fitted object on tiny data: ``predict(obj)`` gives its predictions (an array) on that data."""

    fitted: Any
    predict: Callable[[Any], np.ndarray]
    unfitted: Callable[[], Any]  # the same object before fit (for the not-fitted check)


def tiny_text_data(n: int = 80, seed: int = 0) -> ModalityData:
    """:func:`tiny_data` with a raw-text column (``meta["text"]``) whose words carry the label, and a text block."""
    data = tiny_data(n, seed)
    rng = np.random.default_rng(seed + 1)
    words = np.where(data.y == 1, "great value fast", "poor fit slow")
    noise = rng.choice(["red", "blue", "shirt", "shoe"], size=n)
    meta = data.meta.assign(text=[f"{w} {x}" for w, x in zip(words, noise, strict=True)])
    text = rng.normal(size=(n, 3)).astype(np.float32)
    return ModalityData(blocks={**data.blocks, "text": text}, names={**data.names, "text": ["t0", "t1", "t2"]},
                        present={**data.present, "text": np.ones(n, bool)}, y=data.y, meta=meta,
                        kinds={**data.kinds, "text": "embedding"})


def _model(name: str, **options: Any) -> Callable[[], Built]:
    def build() -> Built:
        from culturecart.models.registry import create_model

        data = tiny_text_data(80)
        train = data.rows(np.arange(60))
        return Built(create_model(name, **options).fit(train, data.rows(np.arange(60, 80))),
                     lambda m: m.predict_proba(data), lambda: create_model(name, **options))
    return build


def _featurizer() -> Built:
    from culturecart.data.simulate import SimulationConfig, simulate_marketplace
    from culturecart.models.featurizer import Featurizer

    ds = simulate_marketplace(SimulationConfig(n_users=30, n_products=10, countries=["KR", "US"], seed=1))
    new = simulate_marketplace(SimulationConfig(n_users=10, n_products=10, countries=["KR", "DE"], seed=2))

    def predict(f: Featurizer) -> np.ndarray:
        data = f.transform(new)
        return np.concatenate([np.nan_to_num(np.asarray(data.blocks[m], float), nan=-1.0).ravel()
                               for m in data.modalities])
    return Built(Featurizer(embedding_dim=4).fit(ds), predict, lambda: Featurizer(embedding_dim=4))


def _scope() -> Built:
    from culturecart.culture.scopes import ScopedModel, fit_scope

    data = tiny_data(120)
    return Built(fit_scope("local", "logistic", data, min_country_rows=10), lambda m: m.predict_proba(data),
                 lambda: ScopedModel("local"))


def _predictor() -> Built:
    from culturecart.data.simulate import SimulationConfig, simulate_marketplace
    from culturecart.predictor import PurchasePredictor

    ds = simulate_marketplace(SimulationConfig(n_users=40, n_products=12, countries=["KR", "US"], seed=1))
    fast = {"text": {"name": "char-hash"}, "image": {"name": "image-hash"}}
    make = lambda: PurchasePredictor("lightgbm", encoders=fast, n_estimators=20, embedding_dim=4)  # noqa: E731
    return Built(make().fit(ds), lambda m: m.predict_proba(ds), make)


def _ranker(name: str, users: int = 24, **options: Any) -> Callable[[], Built]:
    def build() -> Built:
        from culturecart.ranking.registry import create_ranker

        markets = small_markets(users)
        train = markets["aa"].train
        who, what = train["userId"].to_numpy(), np.roll(train["itemId"].to_numpy(), 3)
        return Built(create_ranker(name, **options).fit(markets, "aa", ["bb"]), lambda r: r.score(who, what),
                     lambda: create_ranker(name, **options))
    return build


def _session(name: str, **options: Any) -> Callable[[], Built]:
    def build() -> Built:
        from culturecart.persist import FITTED

        cls = FITTED.load(f"session:{name}")
        sessions = tiny_sessions()
        queries = [["a", "b"], ["x"], ["p", "q"], ["zz"]]

        def predict(model: Any) -> np.ndarray:
            ranked = model.recommend(queries, k=3)
            return np.array([hash_text(" ".join(r)) for r in ranked], float)
        return Built(cls(**options).fit(sessions), predict, lambda: cls(**options))
    return build


def _matching() -> Built:
    from culturecart.matching.config import MatchingConfig, Steps
    from culturecart.matching.model import MatchingModel

    titles = ["red cotton shirt", "shirt cotton red", "blue denim jeans", "jeans denim blue", "green wool hat",
              "hat wool green", "black leather belt", "belt leather black", "white tennis shoes", "shoes tennis white"]
    frame = pd.DataFrame({"posting_id": [f"p{i}" for i in range(10)], "image": [f"{i}.jpg" for i in range(10)],
                          "image_phash": [f"{(i // 2) * 7919:016x}" for i in range(10)], "title": titles,
                          "label_group": [str(i // 2) for i in range(10)]})
    config = MatchingConfig(text_encoder="char-hash", inner_folds=2, arcface_epochs=2, arcface_dim=8, k=5,
                            steps=Steps(pair_model=True))

    def predict(model: MatchingModel) -> np.ndarray:
        return np.array([hash_text(m) for m in model.predict(frame.drop(columns="label_group"))["matches"]], float)
    return Built(MatchingModel(config).fit(frame), predict, lambda: MatchingModel(config))


def state_digest(obj: Any) -> str:
    """A hash of everything an object holds, recursively through ``vars()`` (arrays, frames, sparse matrices,
    torch modules and tensors, LightGBM boosters by their model text), to check that predicting changes nothing."""
    h = hashlib.sha256()
    _digest_into(h, obj, {})
    return h.hexdigest()


def _digest_into(h, obj: Any, seen: dict[int, Any]) -> None:  # noqa: C901  (one branch per kind of value)
    import scipy.sparse as sp
    from pydantic import BaseModel

    h.update(type(obj).__name__.encode())
    if obj is None or isinstance(obj, bool | int | float | str | bytes | complex):
        h.update(repr(obj).encode())
        return
    if id(obj) in seen:  # a shared part is counted once
        return
    seen[id(obj)] = obj  # kept alive: a temporary's id is not reused by another object while hashing
    if isinstance(obj, np.ndarray | np.generic):
        arr = np.asarray(obj)
        h.update(str((arr.dtype, arr.shape)).encode())
        h.update(arr.tobytes() if arr.dtype != object else repr(arr.tolist()).encode())
    elif isinstance(obj, pd.DataFrame | pd.Series | pd.Index):
        h.update(pd.util.hash_pandas_object(obj.astype(str) if not isinstance(obj, pd.Index) else obj.to_series(),
                                            index=True).to_numpy().tobytes())
        h.update(repr(list(getattr(obj, "columns", []))).encode())
    elif sp.issparse(obj):
        coo = obj.tocoo()
        for part in (coo.row, coo.col, coo.data, np.array(coo.shape)):
            h.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(obj, BaseModel):
        h.update(repr(obj.model_dump()).encode())
    elif isinstance(obj, dict):
        for key in sorted(obj, key=repr):
            h.update(repr(key).encode())
            _digest_into(h, obj[key], seen)
    elif isinstance(obj, list | tuple | set | frozenset):
        for item in (sorted(obj, key=repr) if isinstance(obj, set | frozenset) else obj):
            _digest_into(h, item, seen)
    elif type(obj).__module__.startswith("torch"):
        import torch

        if isinstance(obj, torch.nn.Module):
            h.update(repr([m.training for m in obj.modules()]).encode())
            for name, value in obj.state_dict().items():
                h.update(name.encode())
                h.update(value.detach().cpu().numpy().tobytes())
        elif isinstance(obj, torch.Tensor):
            h.update(obj.detach().cpu().numpy().tobytes())
        else:
            h.update(repr(obj).encode())
    elif type(obj).__module__.startswith("lightgbm") and hasattr(obj, "model_to_string"):
        h.update(obj.model_to_string().encode())
        h.update(repr(getattr(obj, "best_iteration", None)).encode())
    elif callable(obj) and not hasattr(obj, "__dict__"):
        h.update(repr(getattr(obj, "__qualname__", obj)).encode())
    elif hasattr(obj, "__dict__"):
        _digest_into(h, {k: v for k, v in vars(obj).items()}, seen)
    else:
        text = repr(obj)
        h.update((text if " at 0x" not in text else type(obj).__qualname__).encode())


def hash_text(text: str) -> float:
    """A number for a string (so that lists of recommendations or matches compare as predictions)."""
    return float(int(hashlib.sha256(text.encode()).hexdigest()[:12], 16))


BUILDERS: dict[str, Callable[[], Built]] = {
    "featurizer": _featurizer,
    "model:logistic": _model("logistic"),
    "model:lightgbm": _model("lightgbm", n_estimators=20),
    "model:mlp": _model("mlp", epochs=2, hidden=8),
    "model:transformer": _model("transformer", epochs=2, d_model=8, n_heads=2, n_layers=1),
    "model:late_fusion": _model("late_fusion", base="logistic"),
    "model:ngram_logistic": _model("ngram_logistic", min_df=1),
    "scope": _scope,
    "predictor": _predictor,
    "ranker:popularity": _ranker("popularity"),
    "ranker:itemknn": _ranker("itemknn"),
    "ranker:userknn": _ranker("userknn", neighbours=5),
    "ranker:ease": _ranker("ease", l2=10.0),
    "ranker:als": _ranker("als", factors=4, iterations=3),
    "ranker:bpr": _ranker("bpr", factors=4, iterations=5),
    "ranker:lightgcn": _ranker("lightgcn", factors=4, epochs=3),
    "ranker:rerank": _ranker("rerank", users=80, trees=5, factors=4, negatives=9),  # leaves need 50 rows
    "session:popularity": _session("popularity"),
    "session:covisitation": _session("covisitation"),
    "session:rerank": _session("rerank", trees=5, folds=2),
    "matching": _matching,
}


def build(kind: str) -> Built:
    """The tiny fitted object of ``kind`` (``KeyError`` when the kind has no builder: the contract suite fails)."""
    return BUILDERS[kind]()
