"""Hardening II, the sweep: every registered command, run on a copy of its inputs with one input file damaged in
each of four ways (empty, truncated at half, one flipped byte, a folder where the file belongs). Whatever the
command makes of it (a clear error, or a run that tolerates the damage: a masked image), it never exits 3, never
prints a traceback, never hangs, and leaves every input byte-identical. A command registered without a recipe here
fails :func:`test_every_command_has_a_recipe`."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import typer.main

from culturecart.cli import app
from tests.helpers import runner, write_market

pytestmark = pytest.mark.slow

DATA = ["data/events.parquet", "data/items.parquet", "data/users.parquet", "data/dataset.json", "data/images/IMAGE"]
FAST = "encoders: {text: {name: char-hash}, image: {name: image-hash}}\noptions: {n_estimators: 10}\n"
STUDY = ("data: {path: data}\nencoders: {text: {name: char-hash}, image: {name: image-hash}}\nembedding_dim: 4\n"
         "rq1: {models: [logistic], extra: [], subsets: full, n_boot: 10}\nrq2: {enabled: false}\n"
         "rq3: {scopes: [global], n_boot: 10, min_test_rows: 5}\nrq4: {min_rows: 10, n_boot: 10}\n"
         "rq5: {enabled: false}\nparallel: {n_jobs: 1}\n"
         "calibration: 0\n")  # the sweep checks files, not verdicts: no null replicates of the small design

# command -> (arguments, with {ws} the inputs' copy and {out} a fresh folder; the inputs it reads, under {ws})
RECIPES: dict[str, tuple[list[str], list[str]]] = {
    "validate": (["{ws}/data"], DATA),
    "encode": (["{ws}/data", "--text", "char-hash", "--image", "image-hash", "--out", "{out}/emb"], DATA),
    "fit": (["{ws}/data", "--config", "{ws}/fast.yaml", "--out", "{out}/m"], [*DATA, "fast.yaml"]),
    "predict": (["{ws}/data", "--model-dir", "{ws}/model", "--out", "{out}/s.csv"],
                [*DATA, "model/predictor.json", "model/featurizer/featurizer.npz", "model/model/pooled/booster.txt"]),
    "info": (["{ws}/model"], ["model/predictor.json", "model/featurizer/featurizer.json"]),
    "rq1": (["{ws}/data", "--out", "{out}/rq1", "--models", "logistic", "--subsets", "full", "--n-boot", "10",
             "--text", "char-hash", "--image", "image-hash"], DATA),
    "study": (["{ws}/study.yaml", "--out", "{out}/run", "--quiet"], ["study.yaml", *DATA]),
    "calibrate": (["{ws}/study.yaml", "--replicates", "1", "--planted", "1", "--out", "{out}/cal", "--quiet"],
                  ["study.yaml", "data/events.parquet", "data/items.parquet"]),
    "simulate": (["--out", "{out}/sim", "--users", "20", "--products", "8", "--countries", "KR,US", "--rules",
                  "{ws}/rules.yaml", "--quiet"], ["rules.yaml"]),
    "convert shopee": (["{ws}/listings/shopee.csv", "--out", "{out}/conv", "--quiet"], ["listings/shopee.csv"]),
    **{f"convert {name}": (["{ws}/sources/" + f"{name}.csv", "--out", "{out}/conv", "--quiet"], [f"sources/{name}.csv"])
       for name in ("shoppers", "online-retail", "amazon-m2", "clothing-reviews", "marc")},
    "convert table": (["{ws}/flat.csv", "--label", "bought", "--user", "customer", "--item", "sku", "--country", "nation",
                       "--offer", "price,discount", "--out", "{out}/flat", "--quiet"], ["flat.csv"]),
    "xmarket split": (["{ws}/ratings", "--out", "{out}/xm", "--negatives", "10"],
                      ["ratings/de_5core.txt.gz", "ratings/fr_5core.txt.gz"]),
    "xmarket fit": (["{ws}/markets", "--target", "de", "--model", "itemknn", "--model-dir", "{out}/r"],
                    ["markets/de/train.tsv", "markets/de/valid_run.tsv", "markets/de/valid_qrel.tsv",
                     "markets/fr/train.tsv"]),
    "xmarket predict": (["--model-dir", "{ws}/ranker", "--run", "{ws}/markets/de/valid_run.tsv", "--out",
                         "{out}/s.tsv"], ["ranker/ranker.json", "ranker/arrays.npz", "markets/de/valid_run.tsv"]),
    "xmarket score": (["--scores", "{ws}/scores.tsv", "--qrel", "{ws}/markets/de/valid_qrel.tsv"],
                      ["scores.tsv", "markets/de/valid_qrel.tsv"]),
    "match fit": (["--train", "{ws}/listings/shopee.csv", "--text", "char-hash", "--inner-folds", "2",
                   "--model-dir", "{out}/mm", "--quiet"], ["listings/shopee.csv"]),
    "match predict": (["--model-dir", "{ws}/matcher", "--input", "{ws}/listings/shopee.csv", "--out",
                       "{out}/sub.csv", "--quiet"],
                      ["matcher/matching.json", "matcher/pair_scorer.txt", "matcher/arcface.safetensors",
                       "listings/shopee.csv"]),
    "match score": (["--input", "{ws}/listings/shopee.csv", "--submission", "{ws}/submission.csv"],
                    ["listings/shopee.csv", "submission.csv"]),
}

DEFECTS = {
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "flipped byte": lambda p: p.write_bytes(_flip(p.read_bytes())),
    "folder": lambda p: (p.unlink(), p.mkdir()),
}


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x20]) + data[middle + 1:] if data else data


# A slice of each public source (the shared data folder; these recipes skip where it is absent). Online Retail: every
# line of a few customers, so that months and repeat purchases survive the cut.
SOURCES = {"shoppers": "uci_online_shoppers/online_shoppers_intention.csv.gz",
           "online-retail": "uci_online_retail/online_retail.csv.gz",
           "amazon-m2": "amazon_m2_test/task2_public_sessions_with_next_item.csv.gz",
           "clothing-reviews": "womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz",
           "marc": "marc_reviews_6lang/marc_6lang_subset.csv.gz"}


def _write_sources(folder: Path) -> None:
    import pandas as pd

    from culturecart.paths import data_root

    root = data_root()
    for name, rel in SOURCES.items():
        if not (root / rel).is_file():
            continue
        folder.mkdir(exist_ok=True)
        if name == "online-retail":
            frame = pd.read_csv(root / rel, dtype=str)
            keep = frame["CustomerID"].dropna().drop_duplicates().head(12)
            frame = frame[frame["CustomerID"].isin(keep)]
        else:
            frame = pd.read_csv(root / rel, nrows=300, dtype=str)
        frame.to_csv(folder / f"{name}.csv", index=False)


def _commands(command=None, prefix: str = "") -> list[str]:
    command = command or typer.main.get_command(app)
    if hasattr(command, "commands"):  # an alias (a hidden command) runs the same code as its name
        return [n for name, sub in command.commands.items() if not sub.hidden
                for n in _commands(sub, f"{prefix} {name}".strip())]
    return [prefix]


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def workspace(tiny_dir, tmp_path_factory):
    """Valid inputs for every recipe, built once through the commands themselves."""
    ws = tmp_path_factory.mktemp("sweep") / "ws"
    ws.mkdir()
    shutil.copytree(tiny_dir, ws / "data")
    (ws / "fast.yaml").write_text(FAST)
    (ws / "study.yaml").write_text(STUDY)
    from importlib import resources

    (ws / "rules.yaml").write_text(resources.files("culturecart.data.simulate").joinpath("rules.yaml").read_text())
    _write_sources(ws / "sources")
    from culturecart.testing import flat_table

    flat_table(n_users=40).to_csv(ws / "flat.csv", index=False)
    (ws / "listings").mkdir()
    shutil.copy(tiny_dir / "matching" / "shopee.csv", ws / "listings" / "shopee.csv")
    (ws / "ratings").mkdir()
    for k, (m, users) in enumerate((("de", 20), ("fr", 15))):
        write_market(ws / "ratings", m, users, seed=k)
    env = {"CULTURECART_CACHE": str(ws.parent / "cache")}
    for args in (["fit", ws / "data", "--config", ws / "fast.yaml", "--out", ws / "model"],
                 ["xmarket", "split", ws / "ratings", "--out", ws / "markets", "--negatives", "10"],
                 ["xmarket", "fit", ws / "markets", "--target", "de", "--model", "itemknn", "--model-dir",
                  ws / "ranker"],
                 ["xmarket", "predict", "--model-dir", ws / "ranker", "--run", ws / "markets" / "de" / "valid_run.tsv",
                  "--out", ws / "scores.tsv"],
                 ["match", "fit", "--train", ws / "listings" / "shopee.csv", "--text", "char-hash", "--inner-folds",
                  "2", "--model-dir", ws / "matcher", "-q"],
                 ["match", "predict", "--model-dir", ws / "matcher", "--input", ws / "listings" / "shopee.csv", "--out",
                  ws / "submission.csv", "-q"]):
        done = runner.invoke(app, [str(a) for a in args], env=env)
        assert done.exit_code == 0, done.output
    return ws


def test_every_command_has_a_recipe():
    assert sorted(set(_commands()) - set(RECIPES)) == [], "add a recipe for each new command"
    assert sorted(set(RECIPES) - set(_commands())) == []


CASES = [(c, f, d) for c, (_, files) in RECIPES.items() for f in files for d in DEFECTS]


@pytest.mark.parametrize(("command", "file", "defect"), CASES,
                         ids=[f"{c}|{f.split('/')[-1]}|{d}" for c, f, d in CASES])
def test_a_damaged_input_never_crashes_or_changes_the_inputs(command, file, defect, workspace, tmp_path):
    if not (workspace / file).exists() and not file.endswith("/IMAGE"):
        pytest.skip(f"{file}: its public source is not in the shared data folder (CULTURECART_DATA)")
    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws)
    if file.endswith("/IMAGE"):
        file = str(sorted((ws / "data" / "images").glob("*.png"))[0].relative_to(ws))
    DEFECTS[defect](ws / file)
    before = _digests(ws)
    args, _ = RECIPES[command]
    cli = [*command.split(), *(a.format(ws=ws, out=tmp_path / "out") for a in args)]
    done = runner.invoke(app, cli, env={"CULTURECART_CACHE": str(tmp_path / "cache")})
    assert done.exit_code in (0, 1, 2), f"exit {done.exit_code}:\n{done.output}"
    assert "Traceback" not in done.output and "internal error" not in done.output, done.output
    assert _digests(ws) == before, "an input changed"
    if done.exit_code:
        assert file.split("/")[-1] in done.output or defect == "folder" or "damaged" in done.output \
            or "invalid" in done.output or "not" in done.output, done.output
        out = tmp_path / "out"
        assert not out.exists() or not [p for p in out.rglob("*") if p.is_file() and ".tmp" in p.name]
