from __future__ import annotations

import pytest

from culturecart.explain import add_one, leave_one_out, modality_shapley


def test_shapley_two_modalities_hand_computed():
    v = {frozenset({"a"}): 0.7, frozenset({"b"}): 0.6, frozenset({"a", "b"}): 0.8}
    phi = modality_shapley(v, ["a", "b"], empty_value=0.5)
    # phi_a = 1/2 (0.7 - 0.5) + 1/2 (0.8 - 0.6) = 0.2 ; phi_b = 1/2 (0.6 - 0.5) + 1/2 (0.8 - 0.7) = 0.1
    assert phi == pytest.approx({"a": 0.2, "b": 0.1})


def test_shapley_efficiency_and_symmetry():
    mods = ["a", "b", "c"]

    def value(s):  # additive in a and b, c is a copy of b (redundant)
        return 0.5 + 0.2 * ("a" in s) + 0.1 * bool({"b", "c"} & s)

    from culturecart.evaluate.grid import all_subsets

    v = {frozenset(s): value(frozenset(s)) for s in all_subsets(mods)}
    phi = modality_shapley(v, mods)
    assert sum(phi.values()) == pytest.approx(v[frozenset(mods)] - 0.5)
    assert phi["b"] == pytest.approx(phi["c"]) == pytest.approx(0.05) and phi["a"] == pytest.approx(0.2)
    assert leave_one_out(v, mods) == pytest.approx({"a": 0.2, "b": 0.0, "c": 0.0})
    assert add_one(v, mods, base=["a"]) == pytest.approx({"b": 0.1, "c": 0.1})
    with pytest.raises(KeyError, match="subset"):
        modality_shapley({frozenset({"a"}): 0.6}, ["a", "b"])
