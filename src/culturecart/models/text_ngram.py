"""Sparse n-gram text model: TF-IDF of the raw text + L2 logistic regression, other modalities appended.

Sentence embeddings compress a review into a few hundred numbers; for sentiment-like labels the exact
words ("returned", "runs small") carry more, and TF-IDF + logistic regression is the standard strong
baseline (Wang & Manning 2012, ACL). This model reads the raw text that ``build_features(...,
keep_text=True)`` puts in ``meta["text"]`` (title + reviews); the vocabulary and IDF are fitted on
training rows only. Any other configured modality is appended as its standardised dense block, so the
same model is the text-only rung (``modalities=["text"]``, the default) and an early fusion of sparse
text with tabular features. Rows without text get an all-zero text vector and a ``no_text`` flag.

Example:
    >>> import numpy as np, pandas as pd
    >>> from culturecart.models.features import ModalityData
    >>> texts = ["great fit love it", "runs small returned it"] * 20
    >>> data = ModalityData(blocks={"text": np.zeros((40, 1), np.float32)}, names={"text": ["t0"]},
    ...                     present={"text": np.ones(40, bool)}, y=np.array([1, 0] * 20),
    ...                     meta=pd.DataFrame({"text": texts}), kinds={"text": "embedding"})
    >>> model = NgramLogisticModel(min_df=1).fit(data)
    >>> bool(model.predict_proba(data)[0] > 0.5 > model.predict_proba(data)[1])
    True
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from culturecart.models.base import PurchaseModel
from culturecart.models.configs import NgramConfig
from culturecart.models.features import ModalityData
from culturecart.models.preprocess import Preprocessor
from culturecart.models.tabular import _dense
from culturecart.persist import Files


def raw_text(data: ModalityData) -> np.ndarray:
    """The per-row raw text that ``build_features(..., keep_text=True)`` kept ("" where a row has none)."""
    if "text" not in data.meta.columns:
        raise ValueError("this model reads raw text: build the features with build_features(..., keep_text=True)")
    return data.meta["text"].fillna("").astype(str).to_numpy()


class NgramLogisticModel(PurchaseModel):
    """TF-IDF (word or character n-grams) + logistic regression, other modalities' blocks appended."""

    name = "ngram_logistic"
    config_class = NgramConfig
    fitted_attribute = "clf_"
    reads_raw_text = True

    def _tabular(self, data: ModalityData) -> ModalityData | None:
        others = [m for m in self.modalities_ if m != "text"]  # the modalities fixed at fit time
        return data.select(others) if others else None

    def _matrix(self, data: ModalityData) -> sp.csr_matrix:
        texts = raw_text(data)
        parts = [self.tfidf_.transform(texts), sp.csr_matrix((texts == "").astype(np.float64)[:, None])]
        tabular = self._tabular(data)
        if tabular is not None:
            parts.append(sp.csr_matrix(_dense(self.pre_, tabular)))
        return sp.hstack(parts).tocsr()

    def fit(self, train: ModalityData, valid: ModalityData | None = None) -> NgramLogisticModel:
        cfg = self.config
        self.modalities_ = cfg.modalities or train.modalities
        if "text" not in self.modalities_:
            raise ValueError(f"ngram_logistic reads the text modality; its modalities {self.modalities_} lack 'text'")
        self.tfidf_ = TfidfVectorizer(analyzer=cfg.analyzer, ngram_range=(1, cfg.ngram_max), min_df=cfg.min_df,
                                      max_features=cfg.max_features, sublinear_tf=cfg.sublinear_tf,
                                      dtype=np.float64)
        self.tfidf_.fit(raw_text(train))
        tabular = self._tabular(train)
        self.pre_ = Preprocessor().fit(tabular) if tabular is not None else None
        self.clf_ = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=cfg.max_iter)
        self.clf_.fit(self._matrix(train), train.y)
        return self

    def decision_function(self, data: ModalityData) -> np.ndarray:
        return self.clf_.decision_function(self._matrix(data))

    def _predict_proba(self, data: ModalityData) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision_function(data)))

    def _state(self) -> dict[str, np.ndarray]:
        vocab = self.tfidf_.vocabulary_
        # UTF-8 bytes of the newline-joined terms in column order: compact and pickle-free (terms never hold "\n")
        terms = np.frombuffer("\n".join(sorted(vocab, key=vocab.__getitem__)).encode("utf-8"), np.uint8)
        state = {"terms": terms, "idf": self.tfidf_.idf_, "coef": self.clf_.coef_, "intercept": self.clf_.intercept_,
                 "classes": self.clf_.classes_}
        return {**state, **(self.pre_.to_arrays() if self.pre_ is not None else {})}

    def _restore(self, arrays: dict[str, np.ndarray], files: Files) -> None:
        cfg = self.config
        terms = arrays["terms"].tobytes().decode("utf-8").split("\n")
        self.tfidf_ = TfidfVectorizer(analyzer=cfg.analyzer, ngram_range=(1, cfg.ngram_max),
                                      sublinear_tf=cfg.sublinear_tf, dtype=np.float64,
                                      vocabulary={t: i for i, t in enumerate(terms)})
        # Now, not on the first transform (sklearn sets these lazily): predicting changes no state.
        self.tfidf_._validate_vocabulary()
        self.tfidf_.build_analyzer()
        self.tfidf_.idf_ = arrays["idf"]
        self.pre_ = Preprocessor.from_arrays(arrays) if "pre_order" in arrays else None
        self.clf_ = LogisticRegression()
        self.clf_.coef_, self.clf_.intercept_, self.clf_.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]
