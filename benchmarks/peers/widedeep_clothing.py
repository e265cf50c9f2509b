"""Peer run: pytorch-widedeep on Women's Clothing Reviews, same 80/20 stratified split as clothing_reviews.py.

pytorch-widedeep needs torchvision, which does not import beside culturecart's torch 2.13.0, so it
runs in its own virtual environment (about 3 minutes and 6.6 GB to create):

    python3 -m venv .venv-widedeep && .venv-widedeep/bin/pip install torch==2.14.1 torchvision==0.29.1 \\
        pytorch-widedeep pandas scikit-learn && CULTURECART_DATA=../shared/data \\
        .venv-widedeep/bin/python benchmarks/peers/widedeep_clothing.py

Model: WideDeep with a TabMlp on age, positive-feedback count, division / department / class and a
BasicRNN over the review text (title + text), the library's standard text + tabular recipe.
Rating is left out, as in the culturecart benchmark. Prints one JSON object as its last line.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split


def main() -> None:
    from pytorch_widedeep import Trainer
    from pytorch_widedeep.models import BasicRNN, TabMlp, WideDeep
    from pytorch_widedeep.preprocessing import TabPreprocessor, TextPreprocessor

    t0 = time.perf_counter()
    root = Path(os.environ.get("CULTURECART_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
    df = pd.read_csv(root / "womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv.gz")
    df["text"] = (df["Title"].fillna("") + ". " + df["Review Text"].fillna("")).str.strip(". ")
    df["text"] = df["text"].where(df["text"] != "", "empty")
    y = df["Recommended IND"].to_numpy()
    train_idx, test_idx = train_test_split(np.arange(len(df)), test_size=0.2, stratify=y, random_state=0)
    cat_cols = ["Division Name", "Department Name", "Class Name"]
    df[cat_cols] = df[cat_cols].fillna("missing")
    tab = TabPreprocessor(cat_embed_cols=cat_cols, continuous_cols=["Age", "Positive Feedback Count"])
    text = TextPreprocessor(text_col="text", max_vocab=20000, maxlen=120, n_cpus=2)
    x_tab_train = tab.fit_transform(df.iloc[train_idx])
    x_text_train = text.fit_transform(df.iloc[train_idx])
    model = WideDeep(deeptabular=TabMlp(column_idx=tab.column_idx, cat_embed_input=tab.cat_embed_input,
                                        continuous_cols=["Age", "Positive Feedback Count"]),
                     deeptext=BasicRNN(vocab_size=len(text.vocab.itos), embed_dim=64, hidden_dim=64))
    trainer = Trainer(model, objective="binary", verbose=0, seed=0)
    trainer.fit(X_tab=x_tab_train, X_text=x_text_train, target=y[train_idx], n_epochs=5, batch_size=256,
                val_split=0.1)
    proba = trainer.predict_proba(X_tab=tab.transform(df.iloc[test_idx]), X_text=text.transform(df.iloc[test_idx]))
    auc = roc_auc_score(y[test_idx], proba[:, 1])
    print(json.dumps({"auc_widedeep": round(float(auc), 4), "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
