"""The study's units on a Dask cluster give exactly the results of the local (loky) backend."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from culturecart.study.config import load_config
from culturecart.study.run import run_study

SMALL = ["rq1.models=[lightgbm]", "rq1.subsets=full", "rq1.n_boot=10", "rq3.n_boot=10", "rq3.scopes=[global,local]",
         "rq5.enabled=false", "matching.enabled=false", "parallel.n_jobs=2",
         "calibration.replicates=2", "calibration.planted_replicates=1"]  # calibration replicates are units too


@pytest.fixture
def restored_environment():
    # A LocalCluster's nannies set OMP/MKL/OPENBLAS_NUM_THREADS=1 in this process's environment and leave them
    # there; later tests in this process (and the loky workers they start) would then run with other thread counts.
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.slow
def test_dask_cluster_gives_the_same_results_as_loky(tmp_path, restored_environment):
    distributed = pytest.importorskip("distributed", reason="the dask backend needs dask[distributed]")
    loky = run_study(load_config(preset="twin-small", overrides=[*SMALL, "parallel.backend=loky"]),
                     tmp_path / "loky", quiet=True)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask = run_study(load_config(preset="twin-small", overrides=[
            *SMALL, "parallel.backend=dask", f"parallel.address={cluster.scheduler_address}"]),
            tmp_path / "dask", quiet=True)
    assert on_dask.units_computed == loky.units_computed > 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "dask" / "results.parquet"),
                                  pd.read_parquet(tmp_path / "loky" / "results.parquet"))
    assert (tmp_path / "dask" / "models" / "rq1-lightgbm" / "predictor.json").exists()  # written by the driver
    assert (pd.read_parquet(tmp_path / "dask" / "results.parquet")["question"] == "calibration").any()
