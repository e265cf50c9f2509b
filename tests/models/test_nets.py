from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from culturecart.models.nets import Block, CrossModalTransformer, FastDropout, MLPFusionNet, bernoulli_keep


def test_bernoulli_keep_drops_at_the_rate_and_rescales():
    torch.manual_seed(0)
    mask = bernoulli_keep((400, 500), 0.1)
    dropped = float((mask == 0).float().mean())
    # 200,000 draws: the standard error of the rate is 0.00067.
    assert abs(dropped - 0.1) < 0.003
    kept = mask[mask > 0]
    assert torch.all(kept == kept[0]) and float(kept[0]) == pytest.approx(1 / 0.9, rel=1e-4)
    assert float(mask.mean()) == pytest.approx(1.0, abs=0.005)  # inverted dropout keeps the expectation


def test_bernoulli_keep_follows_the_torch_seed():
    torch.manual_seed(3)
    a = bernoulli_keep((1000,), 0.3)
    torch.manual_seed(3)
    b = bernoulli_keep((1000,), 0.3)
    torch.manual_seed(4)
    c = bernoulli_keep((1000,), 0.3)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert bool(torch.all(bernoulli_keep((100,), 0.0) == 1.0))


def test_fast_dropout_is_the_identity_in_eval_mode():
    x = torch.randn(8, 5)
    layer = FastDropout(0.5)
    assert not torch.equal(layer(x), x)
    assert torch.equal(layer.eval()(x), x)


def test_fast_attention_equals_multihead_attention_in_eval():
    torch.manual_seed(0)
    fast, torch_path = Block(16, 4, 0.1, fast_dropout=True).eval(), Block(16, 4, 0.1).eval()
    torch_path.load_state_dict(fast.state_dict())  # same parameter names either way
    x = torch.randn(6, 7, 16)
    pad = torch.zeros(6, 7, dtype=torch.bool)
    pad[:, 5:] = True  # the last two tokens absent
    pad[0, 1:] = True  # a row with one token left
    out_fast, w_fast = fast(x, pad, need_weights=True)
    out_torch, w_torch = torch_path(x, pad, need_weights=True)
    torch.testing.assert_close(out_fast, out_torch, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w_fast, w_torch, rtol=1e-5, atol=1e-6)
    assert float(w_fast[:, :, 5:].abs().max()) == 0.0


@pytest.mark.parametrize("batch, tokens, d, heads", [(512, 20, 32, 4), (7, 5, 16, 2)])
def test_training_attention_is_multihead_attention_bit_for_bit(batch, tokens, d, heads):
    """The block's own training path gives nn.MultiheadAttention's output and every gradient exactly, with its
    dropout (same random stream) and key padding, so the default transformer trains to the same weights."""
    torch.manual_seed(0)
    block = Block(d, heads, 0.1).train()
    x0 = torch.randn(batch, tokens, d)
    pad = torch.zeros(batch, tokens, dtype=torch.bool)
    pad[:, tokens // 2:] = torch.rand(batch, tokens - tokens // 2) < 0.4
    results = []
    for own in (False, True):
        torch.manual_seed(1)
        block.zero_grad()
        x = x0.clone().requires_grad_()
        h = block.norm1(x)
        out = block.training_attention(h, pad) if own else block.attn(h, h, h, key_padding_mask=pad,
                                                                      need_weights=False)[0]
        (out.square().sum() + out[:, 0].sum()).backward()
        results.append([out.detach(), x.grad] + [p.grad.clone() for p in block.attn.parameters()])
    assert len(results[0]) == 6  # output, input and the four attention parameters' gradients
    for torch_path, own in zip(*results, strict=True):
        assert torch.equal(torch_path, own)
    assert not torch.equal(results[0][0], block.attn(h, h, h, key_padding_mask=pad, need_weights=False)[0])  # dropout


def test_default_networks_keep_torchs_own_dropout():
    block = Block(16, 4, 0.1)
    assert isinstance(block.drop, nn.Dropout) and block.attn_drop is None
    mlp = MLPFusionNet({"a": 3}, 8, 0.1)
    assert all(not isinstance(m, FastDropout) for m in mlp.modules())
    fast = MLPFusionNet({"a": 3}, 8, 0.1, fast_dropout=True)
    assert sum(isinstance(m, FastDropout) for m in fast.modules()) == 2
    assert fast.state_dict().keys() == mlp.state_dict().keys()


def test_fast_dropout_trains_the_transformer_like_the_default():
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = torch.from_numpy(((x[:, 0] - x[:, 1] + 0.3 * rng.normal(size=n)) > 0).astype(np.float32))
    blocks, masks = {"t": torch.from_numpy(x)}, {"t": torch.ones(n, dtype=torch.bool)}

    def trained(fast: bool) -> float:
        torch.manual_seed(0)
        net = CrossModalTransformer({"t": 4}, {"t": "tabular"}, {"t": [0, 1, 2, 3]}, d_model=16, n_layers=1,
                                    n_heads=2, fast_dropout=fast)
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
        for _ in range(60):
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(net(blocks, masks), y)
            loss.backward()
            opt.step()
        return float(loss)

    # Both learn the planted rule; the streams differ, so the losses are close, not equal.
    default, fast = trained(False), trained(True)
    assert default < 0.4 and fast < 0.4 and default != fast
