import numpy as np
import pytest
import scipy.sparse as sp

from culturecart.matching.arcface import ArcFaceHead, TitleVocabulary
from culturecart.matching.f1 import mean_f1, row_f1, true_matches
from culturecart.matching.knn import hamming_knn, knn, l2_normalize
from culturecart.matching.neighbours import (
    match_mask,
    neighbourhood_blend,
    pairs_f1,
    threshold_matches,
    union,
)


def test_f1_hand_cases():
    assert row_f1({"a", "b"}, {"a", "b", "c"}) == pytest.approx(0.8)
    truth = true_matches(["a", "b", "c"], ["g", "g", "h"])
    assert truth == {"a": {"a", "b"}, "b": {"a", "b"}, "c": {"c"}}
    assert mean_f1({"a": ["a"], "b": ["a", "b"]}, truth) == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_vectorised_f1_equals_the_set_version():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 15, 60)
    rows, cols = rng.integers(0, 60, 200), rng.integers(0, 60, 200)
    keep = rows != cols
    pairs = [(rows[keep], cols[keep])]
    ids = [str(i) for i in range(60)]
    pred = {str(i): [str(i)] + [str(c) for r, c in zip(rows[keep], cols[keep], strict=True) if r == i]
            for i in range(60)}
    assert pairs_f1(pairs, codes) == pytest.approx(mean_f1(pred, true_matches(ids, codes.astype(str))))


def test_knn_matches_brute_force_dense_sparse_and_hamming():
    rng = np.random.default_rng(1)
    x = l2_normalize(rng.normal(size=(300, 16)))
    sims, idx = knn(x, k=5)
    brute = x @ x.T
    assert np.array_equal(idx, np.argsort(-brute, axis=1, kind="stable")[:, :5])
    assert np.allclose(sims, np.sort(brute, axis=1)[:, ::-1][:, :5], atol=1e-5)
    s_sims, s_idx = knn(sp.csr_matrix(x), k=5)
    assert np.array_equal(s_idx, idx) and np.allclose(s_sims, sims, atol=1e-5)
    lonely = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0]], np.float32))  # row 2 shares nothing
    l_sims, l_idx = knn(lonely, k=3)
    assert l_idx[2].tolist() == [2, 2, 2] and l_sims[2].tolist() == [0, 0, 0]  # padded with itself at 0
    assert l_idx[0].tolist() == [0, 1, 0] and l_sims[0, 2] == 0
    hnsw_sims, hnsw_idx = knn(x, k=5, exact_max=10)  # HNSW above the size setting: near-exact here
    assert (hnsw_idx[:, 0] == np.arange(300)).mean() > 0.99
    h = rng.integers(0, 2 ** 63, 50, dtype=np.uint64)
    hs, hi = hamming_knn(h, k=3)
    dist = np.array([[bin(int(a) ^ int(b)).count("1") for b in h] for a in h])
    assert np.allclose(hs, 1 - np.sort(dist, axis=1)[:, :3] / 64)
    assert np.array_equal(hi, np.lexsort((np.tile(np.arange(50), (50, 1)), dist), axis=1)[:, :3])
    assert knn(x[:1], k=51)[1].shape == (1, 1)  # a one-row input matches itself


def test_thresholds_min2_union_and_blending():
    sims = np.array([[1.0, 0.6, 0.2], [1.0, 0.6, 0.1], [1.0, 0.3, 0.2]])
    idx = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1]])
    assert threshold_matches(sims, idx, 0.5) == [[0, 1], [1, 0], [2]]
    assert threshold_matches(sims, idx, 0.7, min2_threshold=0.25) == [[0, 1], [1, 0], [2, 0]]
    assert match_mask(sims, idx, 0.7).sum() == 0
    assert union([[0, 1], [1]], [[0, 2], [1, 0]]) == [[0, 1, 2], [1, 0]]
    x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], np.float32)
    blended = neighbourhood_blend(x, threshold=0.7, stages=1, k=3)
    # row 0 blends with row 1 (cosine 0.8 >= 0.7): normalise(1 * x0 + 0.8 * x1)
    expected = l2_normalize((x[0] + 0.8 * x[1])[None])[0]
    assert np.allclose(blended[0], expected, atol=1e-6)
    assert np.allclose(blended[2], x[2])  # nothing close enough: unchanged


def test_arcface_head_pulls_groups_together():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 32))
    labels = np.repeat(np.arange(40), 4)
    x = (centres[labels] + 1.2 * rng.normal(size=(160, 32))).astype(np.float32)

    def top1_same_group(v):
        _, idx = knn(l2_normalize(v), k=2)
        return (labels[idx[:, 1]] == labels).mean()

    head = ArcFaceHead(dim=16, epochs=40, seed=0).fit(x, labels)
    assert top1_same_group(head.transform(x)) > top1_same_group(x)
    again = ArcFaceHead(dim=16, epochs=40, seed=0).fit(x, labels)
    assert np.array_equal(head.transform(x), again.transform(x))  # seeded


def test_arcface_head_learns_from_title_ngrams_and_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    words = ["kaos", "polos", "sepatu", "tas", "celana", "baju", "jam", "topi", "dompet", "sendal", "gelas", "piring"]
    groups = [" ".join(rng.choice(words, 3, replace=False)) + f" model{g}" for g in range(30)]
    labels = np.repeat(np.arange(30), 4)
    titles = [f"{groups[g]} {rng.choice(['promo', 'murah', 'ori', ''])}".strip() for g in labels]
    vocab = TitleVocabulary().fit(titles)
    grams = vocab.transform(titles)
    dense = np.zeros((len(titles), 4), np.float32)  # no pretrained signal: the n-grams carry it all
    head = ArcFaceHead(dim=16, epochs=30, seed=0).fit(dense, labels, grams)
    z = head.transform(dense, grams)
    _, idx = knn(z, k=2)
    assert (labels[idx[:, 1]] == labels).mean() > 0.9
    with pytest.raises(ValueError, match="grams"):
        head.transform(dense)
    vocab.save(tmp_path / "v.json")
    head.save(tmp_path / "h.safetensors")
    again = ArcFaceHead.load(tmp_path / "h.safetensors", dim=16)
    loaded = TitleVocabulary.load(tmp_path / "v.json")
    assert (loaded.transform(["가방 kaos 🎒"]) != vocab.transform(["가방 kaos 🎒"])).nnz == 0
    assert np.allclose(again.transform(dense, loaded.transform(titles)), z, atol=1e-6)
