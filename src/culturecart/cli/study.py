"""``culturecart study`` and ``culturecart calibrate``: the whole study into one folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from culturecart.cli.app import out
from culturecart.errors import UsageError


def study(
    config: Annotated[Path | None, typer.Argument(help="study YAML (optional with --preset)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="output folder (rerun the same command to resume)")] = Path(
        "runs/study"),
    preset: Annotated[str | None, typer.Option(help="built-in study: twin (the simulated marketplace) or "
                                                    "twin-small")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="dotted override, e.g. --set rq5.seeds=2")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only the final report path")] = False,
) -> None:
    """Run the whole study (RQ1-RQ5, matching when configured) and write results and report.html.

    On a markets folder (``data.markets``: ratings per market) it runs RQ3 and RQ5 for rankers."""
    from culturecart.parallel import release_workers
    from culturecart.study.config import load_config
    from culturecart.study.workers import study_workers

    if config is None and preset is None and not overrides:
        raise UsageError("give a study YAML file, --preset twin, --set data.path=DATASET or "
                         "--set data.markets=MARKETS_FOLDER")
    cfg = load_config(config, preset, overrides or [])
    with study_workers(cfg):  # the workers import and load their models while this process imports the study
        from culturecart.study.run import run_study

        result = run_study(cfg, out_dir, quiet=quiet)
    out.print(f"report: {result.out / 'report.html'}")
    release_workers()  # this process ends here: no need to wait for the workers' own exit


def calibrate(
    config: Annotated[Path | None, typer.Argument(help="the study's YAML (optional with --preset)")] = None,
    replicates: Annotated[int, typer.Option("--replicates", min=1, help="null replicates (no cultural "
                                                                        "differences); 100+ for a false-positive "
                                                                        "rate within +-0.05")] = 100,
    planted: Annotated[int | None, typer.Option("--planted", min=1, help="replicates per planted scale (default: "
                                                                         "a fifth of --replicates, at least 5)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="the study's output folder: its units are reused and the "
                                                        "report gains the calibration")] = Path("runs/study"),
    preset: Annotated[str | None, typer.Option(help="built-in study: twin or twin-small")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="dotted override, e.g. --set "
                                                                      "calibration.scales=[0.5,1]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only the final report path")] = False,
) -> None:
    """How far to trust RQ3/RQ4: false-positive rates, power and minimum detectable effects on the study's own data.

    Redraws the purchase labels of the study's RQ4 rows from its fitted logit without country differences (the
    null) and with them scaled (power), reruns RQ3/RQ4 on each replicate, and adds "How far to trust these
    answers" to the study's report. Rerun to resume; more replicates add to the stored ones."""
    from culturecart.parallel import release_workers
    from culturecart.study.config import load_config
    from culturecart.study.run import run_study

    if config is None and preset is None and not overrides:
        raise UsageError("give a study YAML file, --preset twin or --set data.path=DATASET")
    extra = [f"calibration.replicates={replicates}"] + ([f"calibration.planted_replicates={planted}"] if planted else [])
    cfg = load_config(config, preset, [*(overrides or []), *extra])
    if cfg.data.markets:
        raise UsageError("calibrate needs an events dataset (data.preset or data.path): a markets folder has no "
                         "RQ4 logit to draw labels from")
    result = run_study(cfg, out_dir, quiet=quiet)
    out.print(f"report: {result.out / 'report.html'}")
    release_workers()  # this process ends here: no need to wait for the workers' own exit


