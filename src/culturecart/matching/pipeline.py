"""The matching pipeline: listings -> component neighbours -> thresholds, min2, INB, union -> matches.

Components (each a neighbour list of the top ``k`` = 51 by cosine similarity):

=============  ==========================================================================================
``tfidf``      character 2-4-gram TF-IDF of the titles, fitted on the listings being matched (no labels)
``text``       the pretrained multilingual text encoder (``use-m3``; ``char-hash`` without it)
``arcface``    an ArcFace head trained on label groups over [pretrained text, TF-IDF n-grams of the training
               titles] (:mod:`culturecart.matching.arcface`)
``phash``      64-bit image phash, similarity = 1 - Hamming distance / 64
``image``      the image encoder (``effnet-lite0``), only when an image folder is given
``comb``       concatenation of the separately L2-normalised text side (arcface or text) and image side
               (image, or the phash bits as a +/-1 vector), the image side scaled by ``image_weight``
               (tuned; 1 = the reference's equal weights); optionally blended by Iterative NB
=============  ==========================================================================================

``Steps`` says which of these make the final matches (the benchmark's ladder switches them on one by one).
With ``pair_model`` (the default) a learned scorer on candidate pairs (:mod:`culturecart.matching.pairs`)
reads the union's neighbour lists and every dense view, and replaces the thresholded union.
Titles that are empty or missing match through the image side only (their text vectors are masked out of
the text neighbours); rows without an image file fall back to the phash.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GroupKFold

from culturecart.atomic import atomic_dir, atomic_write_text
from culturecart.encoders.encode import encode
from culturecart.errors import InvalidInputError, MissingInputError, UsageError
from culturecart.matching.arcface import ArcFaceHead, TitleVocabulary
from culturecart.matching.config import MatchingConfig, Steps
from culturecart.matching.knn import hamming_knn, knn, l2_normalize
from culturecart.matching.neighbours import (
    MAX_MATCHES,
    as_lists,
    match_mask,
    neighbourhood_blend,
    pairs_f1,
    union,
)
from culturecart.matching.pairs import PairScorer, match_lists, pair_set

GRIDS = {
    "tfidf": np.round(np.arange(0.30, 0.96, 0.025), 3), "text": np.round(np.arange(0.40, 0.99, 0.02), 3),
    "arcface": np.round(np.arange(0.20, 0.96, 0.025), 3), "image": np.round(np.arange(0.40, 0.99, 0.02), 3),
    "comb": np.round(np.arange(0.20, 0.96, 0.025), 3), "phash": np.round(1 - np.arange(0, 21) / 64, 4),
    "min2": np.round(np.arange(0.10, 0.80, 0.05), 3), "inb": np.round(np.arange(0.30, 0.91, 0.1), 3),
    "image_weight": np.array([0.4, 0.5, 0.6, 0.7, 0.85, 1.0]),
}
START = {"min2": 0.5, "inb": 0.6, "image_weight": 1.0}
SETTINGS = tuple(START)  # tuned like thresholds, but not a component's own threshold


COMPONENTS = ("tfidf", "text", "arcface", "phash", "image")  # those with their own neighbour lists


@dataclass
class Views:
    """Everything the thresholds act on, for one set of listings."""

    neighbours: dict[str, tuple[np.ndarray, np.ndarray]]
    text_sides: dict[str, np.ndarray]  # normalised text vectors for comb: "text" and, with a head, "arcface"
    image_side: np.ndarray  # normalised image (or phash-bit) vectors for comb
    comb_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    k: int = 51

    @property
    def n(self) -> int:
        return len(self.image_side)

    def comb_vectors(self, inb_threshold: float | None, stages: int, arcface: bool,
                     image_weight: float = 1.0) -> np.ndarray:
        """The combined embedding (text side and weighted image side), blended over ``stages`` of INB."""
        side = "arcface" if arcface and "arcface" in self.text_sides else "text"
        x = np.concatenate([self.text_sides[side], image_weight * self.image_side], axis=1)
        x /= np.sqrt(1.0 + image_weight ** 2)
        return neighbourhood_blend(x, inb_threshold, stages, self.k) if stages else x

    def comb(self, inb_threshold: float | None, stages: int, arcface: bool,
             image_weight: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of :meth:`comb_vectors` (memoised: threshold tuning asks for them many times)."""
        key = _comb_key(inb_threshold, stages, arcface, image_weight)
        if key not in self.comb_cache:
            self.comb_with_vectors(inb_threshold, stages, arcface, image_weight)
        return self.comb_cache[key]

    def comb_with_vectors(self, inb_threshold: float | None, stages: int, arcface: bool,
                          image_weight: float = 1.0) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """:meth:`comb_vectors` and their neighbours, the vectors computed once."""
        x = self.comb_vectors(inb_threshold, stages, arcface, image_weight)
        key = _comb_key(inb_threshold, stages, arcface, image_weight)
        if key not in self.comb_cache:
            self.comb_cache[key] = knn(x, self.k)
        return x, self.comb_cache[key]


def _comb_key(inb_threshold: float | None, stages: int, arcface: bool, image_weight: float) -> tuple:
    return (arcface, image_weight) + ((inb_threshold, stages) if stages else ())


def _phash_ints(phash: pd.Series) -> np.ndarray:
    return np.array([int(h, 16) for h in phash.fillna("0" * 16)], dtype=np.uint64)


def _phash_bits(ints: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(ints.astype(np.uint64).view(np.uint8).reshape(len(ints), 8), axis=1).astype(np.float32)
    return (2 * bits - 1) / 8.0  # unit norm


def text_inputs(titles: pd.Series, encoder: str, cache: str | None = None) -> np.ndarray:
    """The pretrained encoder's normalised vector per title (masked titles are 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        emb = encode(titles.tolist(), encoder, cache=cache, progress=False)
    return np.nan_to_num(l2_normalize(np.nan_to_num(emb.vectors)))


@dataclass
class TitleHead:
    """The trained text side: the vocabulary of the training titles and the ArcFace head over it."""

    vocabulary: TitleVocabulary
    head: ArcFaceHead

    @classmethod
    def fit(cls, titles: pd.Series, x: np.ndarray, labels: np.ndarray, config: MatchingConfig,
            seed: int) -> TitleHead:
        vocab = TitleVocabulary().fit(titles.tolist())
        head = ArcFaceHead(dim=config.arcface_dim, epochs=config.arcface_epochs, seed=seed)
        return cls(vocab, head.fit(x, labels, vocab.transform(titles.tolist())))

    def transform(self, titles: pd.Series, x: np.ndarray) -> np.ndarray:
        return self.head.transform(x, self.vocabulary.transform(titles.tolist()))

    def save(self, folder: Path) -> None:
        self.vocabulary.save(folder / "vocabulary.json")
        self.head.save(folder / "arcface.safetensors")

    @classmethod
    def load(cls, folder: Path, dim: int) -> TitleHead:
        return cls(TitleVocabulary.load(folder / "vocabulary.json"),
                   ArcFaceHead.load(folder / "arcface.safetensors", dim=dim))


def _image_vectors(frame: pd.DataFrame, images: Path | None, encoder: str,
                   cache: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(vectors, mask) of the listing images, or None without an image folder or any readable file."""
    if images is None:
        return None
    paths = [str(Path(images) / n) if (Path(images) / n).exists() else None for n in frame["image"]]
    missing = sum(p is None for p in paths)
    if missing:
        warnings.warn(f"{missing} of {len(paths)} image files not found in {images}: those rows use the phash",
                      stacklevel=3)
    if missing == len(paths):
        return None
    emb = encode(paths, encoder, cache=cache, on_error="mask", progress=False)
    return emb.vectors, emb.mask


def compute_views(frame: pd.DataFrame, config: MatchingConfig, head: TitleHead | None = None,
                  images: Path | None = None, inputs: np.ndarray | None = None,
                  components: Collection[str] | None = None) -> Views:
    """Neighbour lists of the listings in ``frame``: of every component, or only of ``components``."""
    k = config.k
    wanted = set(COMPONENTS if components is None else components)
    titles = frame["title"].fillna("").astype(str)
    has_title = titles.str.strip().str.len().to_numpy() > 0
    neighbours: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if has_title.any() and "tfidf" in wanted:
        tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=1, sublinear_tf=True,
                                dtype=np.float32).fit_transform(titles)
        neighbours["tfidf"] = knn(tfidf, k)
    x = text_inputs(titles, config.text_encoder, config.embedding_cache) if inputs is None else inputs
    if "text" in wanted:
        neighbours["text"] = knn(x, k)
    text_sides = {"text": x}
    if head is not None:
        arc = head.transform(titles, x)
        arc[~has_title] = 0.0
        if "arcface" in wanted:
            neighbours["arcface"] = knn(arc, k)
        text_sides["arcface"] = arc
    for name in ("tfidf", "text", "arcface"):  # an empty title matches nothing through text
        if name in neighbours:
            s, i = neighbours[name]
            s = s.copy()
            s[~has_title] = -1.0
            s[np.isin(i, np.flatnonzero(~has_title))] = -1.0
            neighbours[name] = (s, i)
    ints = _phash_ints(frame["image_phash"])
    if "phash" in wanted:
        neighbours["phash"] = hamming_knn(ints, k)
    image_side = _phash_bits(ints)
    img = _image_vectors(frame, images, config.image_encoder, config.embedding_cache)
    if img is not None:
        vec, mask = img
        side = l2_normalize(np.nan_to_num(vec))
        if "image" in wanted:
            neighbours["image"] = knn(np.where(mask[:, None], side, 0.0), k)
        # rows without a readable image keep their phash bits (in their own coordinates: cosine 0 across)
        image_side = np.concatenate([np.where(mask[:, None], side, 0.0), np.where(mask[:, None], 0.0, image_side)],
                                    axis=1)
    return Views(neighbours, {n: v.astype(np.float32) for n, v in text_sides.items()}, image_side.astype(np.float32),
                 k=k)


PREDICT_STEPS = 2  # the calls MatchingModel.predict makes to its progress callback


def used_components(steps: Steps) -> list[str]:
    """The components whose own neighbour lists ``steps`` reads (the pair model reads the union's)."""
    if "comb" in steps.components and not (steps.union or steps.pair_model):
        return []
    return [c for c in steps.components if c in COMPONENTS and (c != "arcface" or steps.arcface)]


def _component_pairs(views: Views, thresholds: dict[str, float], steps: Steps, cache: dict | None = None):
    """(name, idx, mask) per contributing component, in union priority order (comb first).

    ``cache`` memoises each component's mask by its own thresholds, so a threshold search that moves one
    threshold recomputes one component only.
    """
    cache = {} if cache is None else cache
    out = []
    if "comb" in steps.components:
        min2 = thresholds.get("min2") if steps.min2 else None
        inb = thresholds.get("inb") if steps.inb_stages else None
        weight = thresholds.get("image_weight", 1.0)
        key = ("comb", thresholds["comb"], min2, inb, steps.inb_stages, steps.arcface, weight)
        if key not in cache:
            sims, idx = views.comb(inb, steps.inb_stages, steps.arcface, weight)
            cache[key] = (idx, match_mask(sims, idx, thresholds["comb"], min2))
        out.append(("comb", *cache[key]))
    if steps.union or "comb" not in steps.components:
        alone_min2 = thresholds.get("min2") if steps.min2 and "comb" not in steps.components else None
        for c in steps.components:
            if c != "comb" and c in views.neighbours and (c != "arcface" or steps.arcface):
                key = (c, thresholds[c], alone_min2)
                if key not in cache:
                    s, i = views.neighbours[c]
                    cache[key] = (i, match_mask(s, i, thresholds[c], alone_min2))
                out.append((c, *cache[key]))
    return out


def predict_rows(views: Views, thresholds: dict[str, float], steps: Steps,
                 scorer: PairScorer | None = None) -> list[list[int]]:
    """Matched row positions per row under ``thresholds`` and ``steps`` (and the pair scorer, if it has one)."""
    if steps.pair_model:
        return match_lists(views.n, *_scorer(scorer).match(pair_set(views, thresholds, steps)))
    parts = _component_pairs(views, thresholds, steps)
    if not parts:
        return [[i] for i in range(views.n)]
    lists = [as_lists(idx, mask) for _, idx, mask in parts]
    return union(*lists) if len(lists) > 1 else lists[0]


def _scorer(scorer: PairScorer | None) -> PairScorer:
    if scorer is None:
        raise ValueError("these steps use the pair model, but none was fitted (fit with steps.pair_model)")
    return scorer


def score_f1(views: Views, thresholds: dict[str, float], steps: Steps, codes: np.ndarray,
             cache: dict | None = None, scorer: PairScorer | None = None) -> float:
    """Mean F1 of the matches (without the 50 cap, which k = 51 makes immaterial) against group codes."""
    if steps.pair_model:
        rows, cols, _ = _scorer(scorer).match(pair_set(views, thresholds, steps))
        return pairs_f1([(rows, cols)], codes)
    pairs = []
    for _, idx, mask in _component_pairs(views, thresholds, steps, cache):
        r, k = np.nonzero(mask)
        pairs.append((r, idx[r, k]))
    return pairs_f1(pairs, codes)


def tune_thresholds(folds: list[tuple[Views, np.ndarray]], steps: Steps, passes: int = 2) -> dict[str, float]:
    """Coordinate ascent on mean F1 over validation folds, each threshold and setting on its grid.

    With ``steps.pair_model``, these are the settings of the union it replaces (the pair features read the
    comb's INB and image weight from them); fit the scorer with :func:`fit_pair_scorer`.
    """
    steps = replace(steps, pair_model=False)
    keys = [c for c in steps.components if (c in folds[0][0].neighbours and (c != "arcface" or steps.arcface))
            or c == "comb"]
    if steps.min2:
        keys.append("min2")
    if "comb" in steps.components:
        keys.append("image_weight")
        if steps.inb_stages:
            keys.append("inb")
    caches = [{} for _ in folds]

    def score(th: dict[str, float], st: Steps = steps) -> float:
        return float(np.mean([score_f1(v, th, st, c, cache) for (v, c), cache in zip(folds, caches, strict=True)]))

    th: dict[str, float] = dict(START)
    for key in keys:  # start: each component's own best threshold, matched alone
        if key not in SETTINGS:
            alone = Steps(components=(key,), min2=False, union=False, inb_stages=0, arcface=steps.arcface,
                          pair_model=False)
            th[key] = float(max(GRIDS[key], key=lambda t, key=key, alone=alone: score({**th, key: float(t)}, alone)))
    for _ in range(passes):
        for key in keys:
            best_t, best_s = th[key], score(th)
            for t in GRIDS[key]:
                s = score({**th, key: float(t)})
                if s > best_s + 1e-6:
                    best_t, best_s = float(t), s
            th[key] = best_t
    return th


def fit_pair_scorer(folds: list[tuple[Views, np.ndarray]], thresholds: dict[str, float], steps: Steps,
                    seed: int = 0) -> PairScorer:
    """The pair scorer trained on the candidates of every validation fold (thresholds out of fold)."""
    return PairScorer.fit([(pair_set(v, thresholds, steps), codes) for v, codes in folds], seed=seed)


class MatchingModel:
    """``fit`` learns the ArcFace head and every threshold (GroupKFold inside the training file);
    ``predict`` never reads labels."""

    def __init__(self, config: MatchingConfig | None = None) -> None:
        self.config = config or MatchingConfig()
        self.head_: TitleHead | None = None
        self.scorer_: PairScorer | None = None
        self.thresholds_: dict[str, float] = {}

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
            raise ValueError("matching fit needs a label_group column")
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
        say = progress or (lambda detail: None)
        views = compute_views(frame, self.config, self.head_, images, components=used_components(self.config.steps))
        say(f"embeddings and neighbours of {len(frame):,} listings")
        rows = predict_rows(views, self.thresholds_, self.config.steps, self.scorer_)
        say("matches decided")
        ids = frame["posting_id"].astype(str).to_numpy()
        return pd.DataFrame({"posting_id": ids, "matches": [" ".join(ids[r][:MAX_MATCHES]) for r in rows]})

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write the model folder atomically (a folder that exists and is not empty needs ``overwrite``)."""
        folder = Path(folder)
        with atomic_dir(folder, overwrite=overwrite) as tmp:
            if self.head_ is not None:
                self.head_.save(tmp)
            if self.scorer_ is not None:
                self.scorer_.save(tmp)
            atomic_write_text(tmp / "matching.json", json.dumps(
                {"config": {k: v for k, v in asdict(self.config).items() if k != "embedding_cache"},
                 "thresholds": self.thresholds_}, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> MatchingModel:
        """Read a model folder; :class:`InvalidInputError` naming the damaged file when it cannot be used."""
        folder = Path(folder)
        if not folder.is_dir():
            raise MissingInputError(f"matching model folder {folder} "
                                    + ("is a file, not a folder" if folder.exists() else "does not exist"))
        if not (folder / "matching.json").exists():
            raise InvalidInputError(f"{folder} holds no matching model (matching.json); run `culturecart match fit`")
        part = "matching.json"
        try:
            info = json.loads((folder / "matching.json").read_text("utf-8"))
            cfg = dict(info["config"])
            steps = {"pair_model": False, **cfg["steps"]}  # models saved before the pair model had none
            cfg["steps"] = Steps(**{**steps, "components": tuple(steps["components"])})
            model = cls(MatchingConfig(**cfg))
            model.thresholds_ = {str(k): float(v) for k, v in info["thresholds"].items()}
            if (folder / "arcface.safetensors").exists():
                part = "arcface.safetensors / vocabulary.json"
                model.head_ = TitleHead.load(folder, dim=model.config.arcface_dim)
            if (folder / "pair_scorer.json").exists():
                part = "pair_scorer.json / pair_scorer.txt"
                model.scorer_ = PairScorer.load(folder)
        except Exception as exc:  # any failure to rebuild the model is damage to these files
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            raise InvalidInputError(f"matching model folder {folder} is damaged or incomplete ({part}): "
                                    f"{detail}; fit it again with `culturecart match fit`") from exc
        if model.config.steps.pair_model and model.scorer_ is None:
            raise InvalidInputError(f"matching model folder {folder} is incomplete: its config uses the pair "
                                    "model but pair_scorer.json is missing")
        return model
