"""``culturecart xmarket``: cross-market recommendation on the markets layout (split, fit, predict, score)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from culturecart.cli.app import examples, out, sub_app
from culturecart.ranking.registry import RANKERS

app = sub_app("Cross-market recommendation on the markets layout: split, fit, predict, score.")


@app.command("split", epilog=examples("culturecart xmarket split $CULTURECART_DATA/xmarket_electronics --out markets"))
def xmarket_split(
    src: Annotated[Path, typer.Argument(help="folder of <market>_5core.txt[.gz] rating files")],
    out_dir: Annotated[Path, typer.Option("--out", help="root folder of the markets layout to write")],
    negatives: Annotated[int, typer.Option(help="sampled negatives per held-out positive", min=1)] = 99,
    seed: Annotated[int, typer.Option(help="seed of the negative sampling")] = 0,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty folder")] = False,
) -> None:
    """Leave-one-out split per user by date (last = test, second last = valid) with sampled negatives."""
    from culturecart.atomic import check_output_dir
    from culturecart.ranking.markets import split_markets, write_markets

    check_output_dir(out_dir, overwrite=overwrite, reads=[src])
    markets = split_markets(src, negatives=negatives, seed=seed)
    write_markets(markets, out_dir, overwrite=overwrite)
    for name in markets.names:
        m = markets[name]
        out.print(f"{name}: {len(m.train):,} training ratings, {len(m.qrels['test']):,} test users")
    out.print(f"wrote {out_dir}")


@app.command("fit", epilog=examples(
    "culturecart xmarket fit markets --target de --sources culture --model ease --model-dir rankers/de",
    "culturecart xmarket fit $CULTURECART_DATA/xmrec_wsdm_dev --target s3 --sources all --model-dir rankers/s3",
    "culturecart xmarket fit $CULTURECART_DATA/xmrec_wsdm_dev --target s3 --sources all --set 'labelled_lists=[s1,s2,t2]' "
    "--model-dir rankers/s3-labelled",
    "culturecart xmarket fit $CULTURECART_DATA/xmrec_wsdm_dev --target t2 --sources all --own-labels "
    "--oof-out t2_valid_oof.tsv --model-dir rankers/t2-submission"))
def xmarket_fit(
    root: Annotated[Path, typer.Argument(help="markets layout root")],
    target: Annotated[str, typer.Option(help="target market")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="where the fitted model goes")],
    sources: Annotated[str, typer.Option(help="none (local), all (global), culture (Hofstede-weighted), or a "
                                              "comma-separated list of source markets")] = "none",
    model: Annotated[str, typer.Option(help=f"ranker: {RANKERS.choices()}. Cost on a market of 100k ratings: "
                                            "popularity, itemknn and ease seconds; als and bpr about a minute; "
                                            "lightgcn and rerank (the strongest) a few minutes")] = "rerank",
    options: Annotated[list[str] | None, typer.Option("--set", help=escape("a ranker option, e.g. --set trees=100 "
                                                                            "or --set labelled_lists=[s1,s2] "
                                                                            "(repeatable)"))
                       ] = None,
    own_labels: Annotated[bool, typer.Option("--own-labels", help="rerank only: also learn from the target's own "
                                                                   "labelled validation lists (valid_run.tsv with "
                                                                   "valid_qrel.tsv), as the WSDM Cup teams did for "
                                                                   "their test submissions; the valid run is scored "
                                                                   "out of fold and the model refuses it afterwards")
                          ] = False,
    folds: Annotated[int, typer.Option(help="with --own-labels: folds of the valid run's users (2 or more)")] = 5,
    oof_out: Annotated[Path | None, typer.Option("--oof-out", help="with --own-labels: write the valid run's "
                                                                   "out-of-fold scores here (userId, itemId, score)")
                       ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing non-empty folder")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Fit a ranker for the target market on the target plus the chosen sources (with --own-labels, also on its
    labelled validation lists; the valid run's out-of-fold nDCG@10 is printed, the last line is JSON)."""
    from culturecart.atomic import atomic_path, check_output_dir, check_output_file
    from culturecart.errors import UsageError
    from culturecart.progress import StepProgress
    from culturecart.ranking.crossmarket import (
        FIT_STEPS,
        cross_fit_target,
        fit_target,
        rank_scores,
        summarise,
    )
    from culturecart.ranking.markets import read_markets
    from culturecart.ranking.registry import RANKERS, create_ranker
    from culturecart.study.config import overrides_tree

    RANKERS.resolve(model)
    if (oof_out is not None or folds != 5) and not own_labels:
        raise UsageError("--oof-out and --folds go with --own-labels")
    if folds < 2:
        raise UsageError(f"--folds {folds}: at least 2 (one scores, the others train)")
    if own_labels and RANKERS.canonical(model) != "rerank":
        raise UsageError(f"--own-labels trains the re-ranker (--model rerank), not {model}")
    settings = overrides_tree(options or [])
    create_ranker(model, **settings)  # a misspelt or invalid option is refused before any reading
    check_output_dir(model_dir, overwrite=overwrite, reads=[root])
    if oof_out is not None:
        check_output_file(oof_out, reads=[root, model_dir])
    with StepProgress(f"xmarket fit {target}", FIT_STEPS + 2, quiet) as step:
        markets = read_markets(root)
        step(f"read {len(markets.names)} markets")
        if own_labels:
            ranker, scores = cross_fit_target(markets, target, sources, folds, progress=step, **settings)
        else:
            ranker = fit_target(markets, target, sources, model, progress=step, **settings)
        ranker.save(model_dir, overwrite=overwrite)
        step(f"written to {model_dir}")
    weights = ", ".join(f"{s} {w:.3g}" for s, w in ranker.sources_.items()) or "none (the target alone)"
    out.print(f"fitted {ranker.name} for {target}; source weights: {weights}; wrote {model_dir}")
    if own_labels:
        qrel = markets[target].qrels["valid"]
        result = {**summarise(rank_scores(scores, qrel, known_users=set(markets[target].train["userId"]))),
                  "folds": folds, "run": "valid"}
        if oof_out is not None:
            with atomic_path(oof_out) as tmp:
                scores.to_csv(tmp, sep="\t", index=False)
        out.print(f"{target}'s valid run out of fold ({folds} folds; each user scored by a model that learned the "
                  f"other folds' labels): nDCG@10 {result['ndcg@10']:.4f}  HR@10 {result['hr@10']:.4f}  "
                  f"MRR {result['mrr']:.4f}  users {result['users']:,}"
                  + (f"; scores in {oof_out}" if oof_out is not None else ""))
        out.print(json.dumps(result))


@app.command("predict", epilog=examples(
    "culturecart xmarket predict --model-dir rankers/s3 --run $CULTURECART_DATA/xmrec_wsdm_dev/s3/valid_run.tsv "
    "--out s3_valid_scores.tsv"))
def xmarket_predict(
    model_dir: Annotated[Path, typer.Option("--model-dir", help="a ranker folder written by xmarket fit")],
    run: Annotated[Path, typer.Option("--run", help="a run file: userId, comma-separated candidate itemIds (with "
                                                    "or without a header line, as the official files)")],
    out_file: Annotated[Path, typer.Option("--out", help="scores TSV: userId, itemId, score (with --competition: "
                                                         "the submission folder)")],
    competition: Annotated[bool, typer.Option("--competition", help="write the WSDM Cup submission layout: "
                                                                    "OUT/<market>/<valid|test>_pred.tsv, the market "
                                                                    "and run named by the run file's folder and name")
                           ] = False,
) -> None:
    """Score every candidate of a run (the competition's submission format)."""
    from culturecart.atomic import atomic_path, check_output_file
    from culturecart.errors import UsageError
    from culturecart.ranking.crossmarket import check_coverage, load_model, refuse_learned_run, score_run
    from culturecart.ranking.markets import read_run

    if competition:
        kind = run.name.split("_")[0]
        if kind not in ("valid", "test"):
            raise UsageError(f"--competition names its output after the run: {run.name} is not valid_run.tsv or "
                             "test_run.tsv")
        out_file = out_file / run.parent.name / f"{kind}_pred.tsv"
    check_output_file(out_file, reads=[model_dir, run.parent])  # the run's market folder
    ranker, _ = load_model(model_dir)
    table = read_run(run)
    refuse_learned_run(ranker, table)
    check_coverage(ranker, table)
    scores = score_run(ranker, table)
    with atomic_path(out_file) as tmp:
        scores.to_csv(tmp, sep="\t", index=False)
    out.print(f"wrote {out_file} ({len(scores):,} rows, {table['userId'].nunique():,} users)")


@app.command("score", epilog=examples(
    "culturecart xmarket score --scores s3_valid_scores.tsv --qrel $CULTURECART_DATA/xmrec_wsdm_dev/s3/valid_qrel.tsv"))
def xmarket_score(
    scores_file: Annotated[Path, typer.Option("--scores", help="scores TSV: userId, itemId, score")],
    qrel: Annotated[Path, typer.Option("--qrel", help="qrel TSV: userId, itemId, rating (the held-out positives)")],
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="count qrel users without scores as "
                                                                         "misses")] = False,
) -> None:
    """nDCG@10 (beside the chance level of a random order of the same lists), HR@10, MRR over the qrel users; the
    last line is JSON."""
    from culturecart.ranking.crossmarket import score_files

    result = score_files(scores_file, qrel, allow_missing=allow_missing)
    out.print(f"nDCG@10 {result['ndcg@10']:.4f} (a random order of the same lists: {result['chance_ndcg@10']:.4f})  "
              f"HR@10 {result['hr@10']:.4f}  MRR {result['mrr']:.4f}  users {result['users']:,}")
    out.print(json.dumps(result))
