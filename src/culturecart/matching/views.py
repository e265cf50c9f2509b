"""What the thresholds act on: each component's neighbour lists and the dense views of one set of listings.

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

Titles that are empty or missing match through the image side only (their text vectors are masked out of
the text neighbours); rows without an image file fall back to the phash.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from culturecart.encoders.encode import encode
from culturecart.matching.config import MatchingConfig, Steps
from culturecart.matching.knn import hamming_knn, knn, l2_normalize
from culturecart.matching.neighbours import neighbourhood_blend

if TYPE_CHECKING:
    from culturecart.matching.arcface import TitleHead

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


def used_components(steps: Steps) -> list[str]:
    """The components whose own neighbour lists ``steps`` reads (the pair model reads the union's)."""
    if "comb" in steps.components and not (steps.union or steps.pair_model):
        return []
    return [c for c in steps.components if c in COMPONENTS and (c != "arcface" or steps.arcface)]
