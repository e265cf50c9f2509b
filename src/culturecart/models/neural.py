"""Neural models of the ladder: training with early stopping, class weighting, seeds and calibration."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from torch import nn

from culturecart.models.base import PurchaseModel
from culturecart.models.configs import ModelConfig, NeuralConfig, TransformerConfig
from culturecart.models.features import ModalityData
from culturecart.models.nets import CrossModalTransformer, MLPFusionNet
from culturecart.models.preprocess import Preprocessor, token_groups
from culturecart.parallel import torch_threads
from culturecart.persist import Files, check_is_fitted


def _tensors(blocks: dict[str, np.ndarray], masks: dict[str, np.ndarray], idx=None):
    sel = slice(None) if idx is None else idx
    return ({m: torch.from_numpy(b[sel]) for m, b in blocks.items()},
            {m: torch.from_numpy(k[sel]) for m, k in masks.items()})


def split_by_user(data: ModalityData, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, valid) with ``share`` of users held out."""
    users = data.meta["user_id"].astype(str).to_numpy()
    unique = np.unique(users)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(unique, max(1, int(round(share * len(unique)))), replace=False).tolist())
    is_valid = np.array([u in held for u in users])
    return np.flatnonzero(~is_valid), np.flatnonzero(is_valid)


class NeuralModel(PurchaseModel):
    """Shared training loop; subclasses build the network."""

    config_class: ClassVar[type[ModelConfig]] = NeuralConfig
    fitted_attribute = "net_"

    def build_net(self, dims: dict[str, int], kinds: dict[str, str]) -> nn.Module:
        raise NotImplementedError

    def _groups(self) -> dict[str, list[int]]:
        return {m: token_groups(self.pre_.output_names(m)).tolist() for m in self.modalities_}

    def fit(self, train: ModalityData, valid: ModalityData | None = None) -> NeuralModel:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        if valid is None:
            tr, va = split_by_user(train, cfg.valid_share, cfg.seed)
            train, valid = train.rows(tr), train.rows(va)
        data = self._inputs(train)
        self.modalities_ = data.modalities
        self.pre_ = Preprocessor(log_skewed=self.config.log_skewed).fit(data)
        self.kinds_ = {m: data.kinds.get(m, "tabular") for m in data.modalities}
        self.net_ = self.build_net(self.pre_.dims(), self.kinds_)
        with torch_threads(cfg.threads):
            self._train_loop(train, valid, cfg.lr, cfg.epochs)
        return self

    def fine_tune(self, train: ModalityData, valid: ModalityData | None = None) -> NeuralModel:
        """Continue training a copy on ``train`` at ``finetune_lr_factor`` times the learning rate.

        The preprocessing stays the one fitted on the original training data.
        """
        cfg = self.config
        if valid is None:
            tr, va = split_by_user(train, cfg.valid_share, cfg.seed)
            train, valid = train.rows(tr), train.rows(va)
        tuned = copy.copy(self)
        tuned.net_ = copy.deepcopy(self.net_)
        with torch_threads(cfg.threads):
            tuned._train_loop(train, valid, cfg.lr * cfg.finetune_lr_factor, cfg.finetune_epochs, keep_initial=True)
        return tuned

    def _train_loop(self, train: ModalityData, valid: ModalityData, lr: float, epochs: int,
                    keep_initial: bool = False) -> None:
        cfg = self.config
        bt, mt = self.pre_.transform(self._inputs(train))
        bv, mv = self.pre_.transform(self._inputs(valid))
        y = torch.from_numpy(train.y.astype(np.float32))
        pos = max(float(train.y.sum()), 1.0)
        pos_weight = torch.tensor((len(train.y) - pos) / pos if cfg.balance_classes else 1.0)
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        opt = torch.optim.AdamW(self.net_.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        best, best_state, stale, self.history_ = -np.inf, None, 0, []
        if keep_initial:  # fine-tuning must not end worse on validation than where it started
            best, best_state = self._valid_score(bv, mv, valid.y), copy.deepcopy(self.net_.state_dict())
        started = time.perf_counter()
        for _epoch in range(epochs):
            self.net_.train()
            order = torch.randperm(len(y), generator=gen).numpy()
            total = 0.0
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start:start + cfg.batch_size]
                xb, mb = _tensors(bt, mt, idx)
                opt.zero_grad()
                loss = loss_fn(self.net_(xb, mb), y[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            score = self._valid_score(bv, mv, valid.y)
            self.history_.append({"train_loss": total / len(y), "valid_auc": score})
            if score > best + 1e-5:
                best, best_state, stale = score, copy.deepcopy(self.net_.state_dict()), 0
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        self.fit_seconds_ = time.perf_counter() - started  # training loop only, for throughput figures
        if best_state is not None:
            self.net_.load_state_dict(best_state)
        self.best_valid_auc_ = best
        self._calibrate(self._logits(bv, mv), valid.y)

    def _valid_score(self, blocks, masks, y) -> float:
        if y.min() == y.max():
            return -float(np.mean((self._logits(blocks, masks) > 0) != y))
        return float(roc_auc_score(y, self._logits(blocks, masks)))

    @torch.inference_mode()
    def _logits(self, blocks, masks, batch: int = 4096) -> np.ndarray:
        self.net_.eval()
        n = len(next(iter(masks.values())))
        out = []
        for start in range(0, n, batch):
            xb, mb = _tensors(blocks, masks, slice(start, start + batch))
            out.append(self.net_(xb, mb).numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def _calibrate(self, z: np.ndarray, y: np.ndarray) -> None:
        kind = self.config.calibration
        self.calib_ = {"kind": kind, "a": 1.0, "b": 0.0}
        if kind == "none" or y.min() == y.max():
            return
        if kind == "platt":
            lr = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, None], y)
            self.calib_.update(a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
        elif kind == "temperature":
            def nll(log_t: float) -> float:
                p = 1 / (1 + np.exp(-z / np.exp(log_t)))
                p = np.clip(p, 1e-7, 1 - 1e-7)
                return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

            self.calib_["a"] = float(1 / np.exp(minimize_scalar(nll, bounds=(-5, 5), method="bounded").x))
        else:
            iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6).fit(z, y)
            self.calib_.update(x=iso.X_thresholds_, y=iso.y_thresholds_)

    def _apply_calibration(self, z: np.ndarray) -> np.ndarray:
        c = self.calib_
        if c["kind"] == "isotonic" and "x" in c:
            return np.interp(z, c["x"], c["y"])
        return 1.0 / (1.0 + np.exp(-(c["a"] * z + c["b"])))

    def logits(self, data: ModalityData) -> np.ndarray:
        """Uncalibrated network outputs."""
        check_is_fitted(self)
        blocks, masks = self.pre_.transform(self._inputs(data))
        return self._logits(blocks, masks)

    def _predict_proba(self, data: ModalityData) -> np.ndarray:
        return self._apply_calibration(self.logits(data))

    def integrated_gradients(self, data: ModalityData, steps: int = 32) -> dict[str, np.ndarray]:
        """Integrated gradients (Sundararajan, Taly & Yan 2017, ICML) of the logit per input column.

        Baseline: every preprocessed input at 0 (the training mean) with the row's masks unchanged.
        Completeness holds up to the Riemann error: attributions sum to logit(x) - logit(baseline).
        """
        blocks, masks = self.pre_.transform(self._inputs(data))
        xb, mb = _tensors(blocks, masks)
        self.net_.eval()
        total = {m: torch.zeros_like(x) for m, x in xb.items()}
        for alpha in (np.arange(steps) + 0.5) / steps:  # midpoint rule
            scaled = {m: (x * float(alpha)).requires_grad_(True) for m, x in xb.items()}
            out = self.net_(scaled, mb).sum()
            grads = torch.autograd.grad(out, list(scaled.values()))
            for m, g in zip(scaled, grads, strict=True):
                total[m] += g
        return {m: (xb[m] * total[m] / steps).detach().numpy() for m in xb}

    def _state(self) -> dict[str, np.ndarray]:
        calib = {f"calib.{k}": np.asarray(v) for k, v in self.calib_.items()}
        kinds = {f"kind.{m}": np.array(k) for m, k in self.kinds_.items()}
        return {**self.pre_.to_arrays(), **calib, **kinds}

    def _extra_files(self, folder: Path) -> None:
        save_file({k: v.contiguous() for k, v in self.net_.state_dict().items()}, str(folder / "weights.safetensors"))

    def _restore(self, arrays: dict[str, np.ndarray], files: Files) -> None:
        self.pre_ = Preprocessor.from_arrays(arrays)
        self.kinds_ = {m: str(arrays[f"kind.{m}"]) for m in self.modalities_}
        self.calib_ = {k.split(".", 1)[1]: (v if v.ndim else v.item()) for k, v in arrays.items()
                       if k.startswith("calib.")}
        self.calib_["kind"] = str(self.calib_["kind"])
        self.net_ = self.build_net({m: self.pre_.dims()[m] for m in self.modalities_}, self.kinds_)
        self.net_.load_state_dict(load_file(str(files.path("weights.safetensors"))))
        self.net_.eval()


class MLPModel(NeuralModel):
    """Per-modality projections, concatenated (early fusion); unimodal when given one modality."""

    name = "mlp"
    config_class = NeuralConfig

    def build_net(self, dims: dict[str, int], kinds: dict[str, str]) -> nn.Module:
        torch.manual_seed(self.config.seed)
        return MLPFusionNet(dims, self.config.hidden, self.config.dropout, self.config.fast_dropout)


class TransformerModel(NeuralModel):
    """The cross-modal transformer (see :class:`culturecart.models.nets.CrossModalTransformer`)."""

    name = "transformer"
    config_class = TransformerConfig

    def build_net(self, dims: dict[str, int], kinds: dict[str, str]) -> nn.Module:
        c = self.config
        torch.manual_seed(c.seed)
        return CrossModalTransformer(dims, kinds, self._groups(), c.d_model, c.n_layers, c.n_heads, c.dropout,
                                     c.embedding_tokens, c.modality_dropout, c.fast_dropout)

    @torch.inference_mode()
    def attention(self, data: ModalityData, batch: int = 4096) -> tuple[np.ndarray, list[str]]:
        """The CLS token's last-layer attention over tokens (rows x tokens) and each token's modality."""
        blocks, masks = self.pre_.transform(self._inputs(data))
        self.net_.eval()
        n = len(data.y)
        out = []
        for start in range(0, n, batch):
            xb, mb = _tensors(blocks, masks, slice(start, start + batch))
            out.append(self.net_(xb, mb, return_attention=True)[1].numpy())
        token_mod = [self.modalities_[i] for i in self.net_.token_modality.tolist()]
        return np.concatenate(out), token_mod

    def attention_shares(self, data: ModalityData) -> dict[str, float]:
        """Mean share of the CLS token's attention to modality tokens (its attention to itself left out)."""
        weights, token_mod = self.attention(data)
        weights = weights / weights.sum(axis=1, keepdims=True)
        mods = np.array(token_mod)
        return {m: float(weights[:, mods == m].sum(axis=1).mean()) for m in self.modalities_}
