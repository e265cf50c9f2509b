"""The main command's longest unit, the cross-modal transformer of RQ1, with torch's dropout and with FastDropout.

The twin preset's data and RQ1 split (by item, seed 0) and its transformer settings (8 epochs), fitted on one
thread as in the study, first with ``fast_dropout: false`` (the default: ``nn.Dropout`` and
``nn.MultiheadAttention``, whose CPU masks draw two 32-bit numbers per element) and then with ``true``
(``nets.FastDropout``: 16-bit draws). Prints each one's training seconds and test AUC, with logistic regression's
AUC on the same split for scale. The two transformers are different random draws of the same model; with
``--seeds N`` each is fitted with model seeds 0..N-1 (the split stays seed 0's) and the AUCs' mean and standard
deviation over seeds show how far one draw moves, which is what can reorder RQ1's best model when the main
command's conclusions are compared with a recorded run. Seconds are seed 0's.
Usage: python benchmarks/transformer_dropout.py [--users 2000] [--products 600] [--epochs 8] [--seeds 1] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _measure import emit, peak_rss_mb
from sklearn.metrics import roc_auc_score

from culturecart.data import SimulationConfig, write_marketplace
from culturecart.encoders import EncodersConfig
from culturecart.encoders.dataset import encode_dataset
from culturecart.evaluate.grid import fit_predict
from culturecart.evaluate.splits import make_split
from culturecart.models.featurizer import Featurizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--products", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="cc-dropout-"))
    ds = write_marketplace(out / "market", SimulationConfig(n_users=args.users, n_products=args.products, seed=0),
                           overwrite=True)
    emb = encode_dataset(ds, EncodersConfig(cache_dir=str(out / "cache")), progress=False)
    data = Featurizer(embedding_dim=32).fit(ds, emb).transform(ds, emb)  # the study's embedding_dim
    split = make_split(data, by="item", seed=0)
    y = data.y[split.test]
    everything = tuple(data.modalities)
    figures = {"rows_train": int(len(split.train)), "epochs": args.epochs, "seeds": args.seeds}
    for label, fast in (("torch", False), ("fast", True)):
        aucs = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            p, model = fit_predict("transformer", everything, data, split, seed=seed,
                                   options={"epochs": args.epochs, "fast_dropout": fast})
            aucs.append(float(roc_auc_score(y, p)))
            if seed == 0:
                figures[f"seconds_{label}"] = round(time.perf_counter() - t0, 1)
                figures[f"train_loop_seconds_{label}"] = round(model.fit_seconds_, 1)
                figures[f"auc_{label}"] = round(aucs[0], 4)
            print(f"{label} seed {seed}: {time.perf_counter() - t0:.1f} s, AUC {aucs[-1]:.4f}", flush=True)
        if args.seeds > 1:
            figures[f"auc_{label}_seeds_mean"] = round(float(np.mean(aucs)), 4)
            figures[f"auc_{label}_seeds_sd"] = round(float(np.std(aucs, ddof=1)), 4)
    p, _ = fit_predict("logistic", everything, data, split, seed=0)
    figures["auc_logistic"] = round(float(roc_auc_score(y, p)), 4)
    figures["speedup"] = round(figures["seconds_torch"] / figures["seconds_fast"], 2)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    emit(figures)


if __name__ == "__main__":
    main()
