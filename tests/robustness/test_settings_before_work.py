"""Hardening II, 10 and 11: every setting is checked when the configuration is read (exit 2, naming the key and the
choices), the settings that depend on the data right after the data are read; a refused run creates nothing."""

from __future__ import annotations

import time

import pytest

from tests.helpers import invoke

SMALL = ["--preset", "twin-small"]


@pytest.mark.parametrize(("setting", "names"), [
    ("rq2.enabeld=false", ("rq2.enabeld: unknown setting", "enabled")),
    ("rq1.metrics=[roc_auc,f2]", ("unknown metric 'f2'", "roc_auc")),
    ("rq3.metrics=[nope]", ("unknown metric 'nope'",)),
    ("rq5.fractions=[0.5,1.5]", ("rq5.fractions", "[0, 1]")),
    ("ranking.model_options.l3=5", ("l3: unknown option",)),
    ("rq1.model_options.lightgbm.n_estimatorz=5", ("n_estimatorz: unknown option", "n_estimators")),
    ("rq1.model_options.lightgbm.n_estimators=many", ("n_estimators", "valid integer")),
    ("encoders.text.options.bogus=1", ("options of encoder char-hash: bogus: unknown option",)),
    ("encoders.image.options.threads=many", ("threads",)),
    ("parallel.backend=dask", ("parallel.address",)),
    ("parallel.backend=ray", ("needs the ray package",)),
])
def test_a_wrong_setting_is_refused_before_anything_is_created(setting, names, tmp_path):
    out = tmp_path / "run"
    invoke("study", *SMALL, "--set", setting, "--out", out, exit_code=2, names=names)
    assert not out.exists()


def test_ranker_options_are_typed(tmp_path):
    for value, name in (("abc", "valid number"), ("-1", "greater than 0")):
        invoke("study", "--set", "data.markets=nowhere", "--set", "ranking.model=ease", "--set",
               f"ranking.model_options.l2={value}", "--out", tmp_path / "r", exit_code=2, names=(name,))
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("setting", "names"), [
    ("rq5.targets=[ZZ]", ("rq5.targets", "'ZZ'", "not among the data's countries")),
    ("rq5.sources=[ZZ]", ("rq5.sources", "'ZZ'")),
    ("rq4.features=[nosuch]", ("rq4.features", "nosuch", "available")),
])
def test_settings_that_name_the_data_are_checked_before_the_folder_is_made(setting, names, tiny_dir, tmp_path):
    for data in (["--set", f"data.path={tiny_dir}"], SMALL):  # a dataset folder, and the simulated marketplace
        out = tmp_path / "run"
        invoke("study", *data, "--set", setting, "--out", out, exit_code=2, names=names)
        assert not out.exists()


def test_fit_options_are_checked_before_any_work(tiny_dir, tmp_path):
    cfg = tmp_path / "p.yaml"
    for options, name in (("{n_estimatorz: 5}", "n_estimatorz: unknown option"),
                          ("{n_estimators: many}", "n_estimators")):
        cfg.write_text(f"options: {options}\n")
        started = time.perf_counter()
        invoke("fit", tiny_dir, "--config", cfg, "--out", tmp_path / "m", exit_code=2, names=(name,))
        assert time.perf_counter() - started < 10 and not (tmp_path / "m").exists()


def test_a_missing_cluster_package_and_an_unreachable_cluster(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    invoke("study", *SMALL, "--set", "parallel.backend=dask", "--set", "parallel.address=tcp://127.0.0.1:1",
           "--out", tmp_path / "a", exit_code=2, names=("needs the distributed package",))
    monkeypatch.undo()
    started = time.perf_counter()
    invoke("study", *SMALL, "--set", "parallel.backend=dask", "--set", "parallel.address=tcp://127.0.0.1:1",
           "--set", "parallel.connect_timeout=2", "--out", tmp_path / "b", exit_code=4,
           names=("cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 2 s",))
    assert time.perf_counter() - started < 30 and not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_an_alias_bomb_is_refused_at_once(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(9)]
    bomb.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    invoke("study", bomb, "--out", tmp_path / "r", exit_code=2, names=("alias bomb",))
    invoke("fit", "x", "--config", bomb, "--out", tmp_path / "m", exit_code=2, names=("alias bomb",))
    assert time.perf_counter() - started < 10
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: " + "x" * 2_000_000 + "\n")
    invoke("study", huge, "--out", tmp_path / "r", exit_code=2, names=("more than a configuration needs",))
