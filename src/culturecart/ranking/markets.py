"""The markets layout (the public WSDM Cup 2022 cross-market format): read, validate, and build it.

A root folder with one sub-folder per market::

    ROOT/<market>/train.tsv        userId, itemId, rating[, date]   (tab-separated, header; and/or train_5core.tsv)
    ROOT/<market>/valid_qrel.tsv   userId, itemId, rating           the held-out positives (optional)
    ROOT/<market>/test_qrel.tsv
    ROOT/<market>/valid_run.tsv    userId, itemIds                  comma-separated candidates (optional)
    ROOT/<market>/test_run.tsv

When a market has both ``train.tsv`` and ``train_5core.tsv`` (the WSDM Cup files: the 5-core is not a subset of
the other file), both are read and merged (:func:`merge_training`): one row per (user, item), the explicit 1-5
rating where ``train.tsv`` has one, the 5-core's implicit 1.0 flagged ``implicit`` otherwise, and every row of the
5-core flagged ``core``; the 5-core's items are the market's **candidate universe** (``Market.core_items``: the
official candidate lists draw their negatives uniformly from them).

Markets without runs are sources only. Identifiers are opaque strings. Market codes map to countries for
Hofstede profiles (``uk`` -> GB, any other ISO 3166 alpha-2 code to itself); unknown codes have none.

:func:`split_markets` builds the layout from per-market rating files (``<market>_5core.txt[.gz]``, space-
separated, header ``userId itemId rate date``) with the leave-one-out protocol of the XMarket papers: per
user, ratings ordered by date and then by their row in the source file (a stable sort: many users rate
several items on their last date, and the file order is the only tie-break that is reproducible); the last
is ``test``, the one before ``valid``, the rest ``train``; each held-out positive is listed with
``negatives`` items of the same market that the user never rated, drawn uniformly with a fixed seed.

Example:
    >>> country_of("uk"), country_of("de"), country_of("m01")
    ('GB', 'DE', None)
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.atomic import atomic_dir
from culturecart.data.schema import ISO_COUNTRIES
from culturecart.errors import InvalidInputError, MissingInputError, Problem

MARKET_COUNTRIES = {"uk": "GB"}
TRAIN_FILES = ("train.tsv", "train_5core.tsv")
RUNS = ("valid", "test")


def country_of(market: str) -> str | None:
    """The ISO 3166 alpha-2 country of a market code (``uk`` -> GB), or None for codes that are not countries."""
    code = MARKET_COUNTRIES.get(market.lower(), market.upper())
    return code if code in ISO_COUNTRIES else None


@dataclass
class Market:
    """One market: training interactions and, when it is a target, its qrels and candidate runs."""

    name: str
    train: pd.DataFrame  # userId, itemId, rating[, date][, implicit, core]
    qrels: dict[str, pd.DataFrame] = field(default_factory=dict)  # "valid"/"test" -> userId, itemId, rating
    runs: dict[str, pd.DataFrame] = field(default_factory=dict)  # "valid"/"test" -> userId, candidates (list)

    @property
    def core_items(self) -> np.ndarray:
        """The items candidate lists draw from: the 5-core's when the market has one, else every training item."""
        train = self.train
        rows = train["core"].to_numpy(bool) if "core" in train else np.ones(len(train), bool)
        return np.array(sorted(train.loc[rows, "itemId"].astype(str).unique()))

    @property
    def country(self) -> str | None:
        return country_of(self.name)

    @property
    def items(self) -> np.ndarray:
        return self.train["itemId"].unique()


@dataclass
class Markets:
    """Every market of a root folder, by name."""

    root: Path | None
    markets: dict[str, Market]

    def __getitem__(self, name: str) -> Market:
        if name not in self.markets:
            raise InvalidInputError(f"no market {name!r} under {self.root}; markets: {sorted(self.markets)}")
        return self.markets[name]

    @property
    def names(self) -> list[str]:
        return sorted(self.markets)

    def targets(self, run: str = "test") -> list[str]:
        """Markets that have a candidate run (the others are sources only)."""
        return [m for m in self.names if run in self.markets[m].runs]


def _shape(fields: list[str]) -> tuple[tuple[bool, bool], ...]:
    """What a line's fields look like: (a number, a comma-separated list) each."""
    def number(v: str) -> bool:
        try:
            float(v)
        except ValueError:
            return False
        return True
    return tuple((number(f), "," in f) for f in fields)


def has_header(lines: list[str], columns: list[str]) -> bool:
    r"""Whether the first line is a header. The official WSDM Cup files are mixed: ``train*.tsv`` and ``*_qrel.tsv``
    start with ``userId\titemId\trating``, ``*_run.tsv`` start with data. A first line is data when it names
    none of ``columns`` and looks like the line after it (the same number of fields, numbers and comma lists in
    the same places; a one-line file: a number or a list in it); otherwise it is a header, checked by name.

    Example:
        >>> has_header(["userId\titemIds", "u1\ta,b"], ["userId", "itemIds"])
        True
        >>> has_header(["u1\ta,b,c", "u2\tb,c,d"], ["userId", "itemIds"])
        False
        >>> has_header(["user\titems", "u1\ta,b"], ["userId", "itemIds"])  # a header, misnamed: refused later
        True
    """
    first = lines[0].split("\t")
    names = {c.lower() for c in columns}
    if any(f.strip().lower() in names for f in first) or len(first) != len(columns):
        return True
    if len(lines) > 1 and lines[1]:
        return _shape(first) != _shape(lines[1].split("\t"))
    return not any(n or c for n, c in _shape(first))


def read_tsv(path: Path, columns: list[str], problems: list[Problem], market: str) -> pd.DataFrame | None:
    """A tab-separated file whose header starts with ``columns``, or without a header line (the official run files:
    :func:`has_header`), as text; None (and problems noted) if unusable."""
    text = path.read_bytes()
    try:
        decoded = text.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        from culturecart.errors import describe_decode_error

        problems.append(Problem(market, describe_decode_error(path.name, text, err).split(": ", 1)[1],
                                file=str(path)))
        return None
    lines = decoded.splitlines()
    if not lines:
        problems.append(Problem(market, "file is empty", file=str(path)))
        return None
    if has_header(lines, columns):
        header = lines[0].split("\t")
        if header[: len(columns)] != columns:
            problems.append(Problem(market, f"header must start with {columns} (tab-separated), found {header}; "
                                            "or leave the header line out", file=str(path)))
            return None
        body, first_line = lines[1:], 2
    else:
        header, body, first_line = list(columns), lines, 1
    bad = [i for i, line in enumerate(body, start=first_line) if line and line.count("\t") != len(header) - 1]
    if bad:
        more = f" (+{len(bad) - 10} more)" if len(bad) > 10 else ""
        problems.append(Problem(market, f"lines {bad[:10]}{more} do not have {len(header)} tab-separated fields "
                                        "(mixed separators?)", file=str(path)))
        return None
    rows = [line.split("\t") for line in body if line]
    return pd.DataFrame(rows, columns=header, dtype=str)


def numeric_ratings(frame: pd.DataFrame, path: Path, problems: list[Problem], market: str,
                    column: str = "rating") -> pd.DataFrame:
    """``frame`` with its ``column`` as numbers; rows that are not finite numbers are noted as problems."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = np.flatnonzero((values.isna() | ~np.isfinite(values.fillna(0))).to_numpy())
    if len(bad):
        problems.append(Problem(market, f"{column} must be a number", column=column, rows=tuple(bad[:10].tolist()),
                                n_rows=len(bad), values=tuple(repr(v) for v in frame[column].iloc[bad[:3]]),
                                file=str(path)))
    return frame.assign(**{column: values})


def merge_training(explicit: pd.DataFrame, core: pd.DataFrame) -> pd.DataFrame:
    """``train.tsv`` and ``train_5core.tsv`` of one market as one table: one row per (user, item), the explicit
    rating where there is one, else the 5-core's implicit 1.0 (``implicit`` True); ``core`` marks the 5-core's pairs.

    Example:
        >>> explicit = pd.DataFrame({"userId": ["u", "u", "v"], "itemId": ["a", "a", "b"], "rating": [4.0, 5.0, 2.0]})
        >>> core = pd.DataFrame({"userId": ["u", "w"], "itemId": ["a", "c"], "rating": [1.0, 1.0]})
        >>> merge_training(explicit, core)[["userId", "itemId", "rating", "implicit", "core"]].values.tolist()
        [['u', 'a', 4.0, False, True], ['v', 'b', 2.0, False, False], ['w', 'c', 1.0, True, True]]
    """
    explicit = explicit.drop_duplicates(["userId", "itemId"]).assign(implicit=False)
    core = core.drop_duplicates(["userId", "itemId"])
    pairs = pd.MultiIndex.from_frame(core[["userId", "itemId"]])
    explicit["core"] = pd.MultiIndex.from_frame(explicit[["userId", "itemId"]]).isin(pairs)
    known = pd.MultiIndex.from_frame(explicit[["userId", "itemId"]])
    extra = core[~pairs.isin(known)].assign(implicit=True, core=True)
    return pd.concat([explicit, extra], ignore_index=True)


def read_markets(root: str | Path) -> Markets:
    """Read and validate a markets folder; :class:`InvalidInputError` listing every problem, each naming its file."""
    root = Path(root)
    if not root.is_dir():
        raise MissingInputError(f"markets folder {root} " + ("is a file" if root.exists() else "does not exist"))
    problems: list[Problem] = []
    markets = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        name = folder.name
        paths = [folder / f for f in TRAIN_FILES if (folder / f).is_file()]
        if not paths:
            problems.append(Problem(name, f"market folder has no training data ({' or '.join(TRAIN_FILES)})",
                                    file=str(folder)))
            continue
        tables = []
        for path in paths:
            table = read_tsv(path, ["userId", "itemId", "rating"], problems, name)
            if table is not None and table.empty:
                problems.append(Problem(name, "training file has no rows", file=str(path)))
            elif table is not None:
                tables.append(numeric_ratings(table, path, problems, name))
        if len(tables) != len(paths):
            continue
        train = merge_training(*tables) if len(tables) == 2 else tables[0]
        market = Market(name, train)
        for run in RUNS:
            qrel_path, run_path = folder / f"{run}_qrel.tsv", folder / f"{run}_run.tsv"
            if qrel_path.is_file():
                qrel = read_tsv(qrel_path, ["userId", "itemId", "rating"], problems, name)
                if qrel is not None:
                    market.qrels[run] = numeric_ratings(qrel, qrel_path, problems, name)
            if run_path.is_file():
                table = read_tsv(run_path, ["userId", "itemIds"], problems, name)
                if table is not None:
                    market.runs[run] = run_table(table, run_path, problems, name)
        markets[name] = market
    if not markets and not problems:
        problems.append(Problem("markets", "no market sub-folders", file=str(root)))
    if problems:
        raise InvalidInputError.from_problems(problems, f"markets folder {root}")
    return Markets(root, markets)


def run_table(table: pd.DataFrame, path: Path, problems: list[Problem], market: str) -> pd.DataFrame:
    """A run file's rows as userId + list of candidates; duplicate users or candidates are noted as problems."""
    candidates = table["itemIds"].str.split(",").map(lambda items: [i.strip() for i in items if i.strip()])
    dup_users = np.flatnonzero(table["userId"].duplicated().to_numpy())
    if len(dup_users):
        problems.append(Problem(market, "a user is listed twice in the run", column="userId",
                                rows=tuple(dup_users[:10].tolist()), n_rows=len(dup_users), file=str(path)))
    dup = np.flatnonzero(candidates.map(lambda c: len(c) != len(set(c))).to_numpy())
    if len(dup):
        problems.append(Problem(market, "duplicate candidates in a user's list", column="itemIds",
                                rows=tuple(dup[:10].tolist()), n_rows=len(dup), file=str(path)))
    return pd.DataFrame({"userId": table["userId"], "candidates": candidates})


def write_markets(markets: Markets, out: str | Path, overwrite: bool = False) -> Path:
    """Write ``markets`` in the layout above, atomically (the whole root folder at once)."""
    with atomic_dir(out, overwrite=overwrite) as tmp:
        for name, m in markets.markets.items():
            folder = tmp / name
            folder.mkdir()
            m.train.to_csv(folder / "train.tsv", sep="\t", index=False)
            for run, qrel in m.qrels.items():
                qrel[["userId", "itemId", "rating"]].to_csv(folder / f"{run}_qrel.tsv", sep="\t", index=False)
            for run, table in m.runs.items():
                pd.DataFrame({"userId": table["userId"], "itemIds": table["candidates"].map(",".join)}).to_csv(
                    folder / f"{run}_run.tsv", sep="\t", index=False)
    return Path(out)


def read_ratings(path: Path) -> pd.DataFrame:
    """A ``<market>_5core.txt[.gz]`` file: space-separated ``userId itemId rate date`` with a header."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            frame = pd.read_csv(fh, sep=" ", dtype=str)
    except Exception as exc:  # any reader failure is a property of the file
        from culturecart.data.dataset import unreadable

        raise InvalidInputError(f"rating file {path}: {unreadable(path, exc)}") from exc
    missing = [c for c in ("userId", "itemId", "rate", "date") if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"rating file {path}: missing column(s) {missing}; found {list(frame.columns)}")
    if frame.empty:
        raise InvalidInputError(f"rating file {path} has a header but no ratings")
    rating = pd.to_numeric(frame["rate"], errors="coerce")
    if rating.isna().any():
        rows = np.flatnonzero(rating.isna().to_numpy())
        raise InvalidInputError(f"rating file {path}: 'rate' must be a number; rows {rows[:10].tolist()} "
                                f"(0-based), e.g. {frame['rate'].iat[rows[0]]!r}")
    return pd.DataFrame({"userId": frame["userId"], "itemId": frame["itemId"], "rating": rating,
                         "date": frame["date"]})


def deduplicate(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item), the latest by date and then by file order, kept in file order: a pair rated twice
    would otherwise sit in training and among the held-out positives at once (a leak)."""
    order = ratings.assign(_row=np.arange(len(ratings))).sort_values(["userId", "date", "_row"], kind="stable")
    kept = order.drop_duplicates(["userId", "itemId"], keep="last").sort_values("_row")
    return kept.drop(columns="_row").reset_index(drop=True)


def leave_one_out(ratings: pd.DataFrame, market: str, negatives: int, rng: np.random.Generator) -> Market:
    """Split one market's ratings (in file order) into train / valid / test with sampled negative candidates, after
    :func:`deduplicate`. A market where no user has three distinct items is a source only (no runs)."""
    ratings = deduplicate(ratings)
    order = ratings.assign(_row=np.arange(len(ratings))).sort_values(["userId", "date", "_row"], kind="stable")
    position_from_end = order.groupby("userId", sort=False).cumcount(ascending=False).to_numpy()
    counts = order.groupby("userId", sort=False)["itemId"].transform("size").to_numpy()
    eligible = counts >= 3  # a user needs a training interaction besides the two held out
    test = order[(position_from_end == 0) & eligible]
    valid = order[(position_from_end == 1) & eligible]
    train = order[(position_from_end >= 2) | ~eligible].drop(columns="_row")
    items = np.array(sorted(ratings["itemId"].unique()))
    rated = ratings.groupby("userId")["itemId"].agg(set)
    market_obj = Market(market, train.reset_index(drop=True))
    if test.empty:
        return market_obj
    for run, held in (("valid", valid), ("test", test)):
        market_obj.qrels[run] = held[["userId", "itemId", "rating"]].reset_index(drop=True)
        lists = []
        for user, positive in zip(held["userId"], held["itemId"], strict=True):
            seen = rated[user]
            pool = items[~np.isin(items, list(seen))]
            drawn = rng.choice(pool, size=min(negatives, len(pool)), replace=False).tolist()
            candidates = [positive, *drawn]
            rng.shuffle(candidates)
            lists.append(candidates)
        market_obj.runs[run] = pd.DataFrame({"userId": held["userId"].to_numpy(), "candidates": lists})
    return market_obj


def split_markets(src: str | Path, negatives: int = 99, seed: int = 0) -> Markets:
    """Markets built from every ``<market>_5core.txt[.gz]`` in ``src`` with the leave-one-out protocol."""
    src = Path(src)
    if not src.is_dir():
        raise MissingInputError(f"source folder {src} " + ("is a file" if src.exists() else "does not exist"))
    files = sorted(p for p in src.iterdir() if p.name.endswith(("_5core.txt", "_5core.txt.gz")))
    if not files:
        raise InvalidInputError(f"{src} holds no <market>_5core.txt[.gz] rating files")
    markets = {}
    for path in files:
        name = path.name.split("_5core")[0]
        # One generator per market, seeded by (seed, market): adding a market never changes another's negatives.
        rng = np.random.default_rng([seed, *name.encode()])
        markets[name] = leave_one_out(read_ratings(path), name, negatives, rng)
    return Markets(None, markets)


def read_run(path: str | Path) -> pd.DataFrame:
    """A run file (userId, comma-separated candidate itemIds) as userId + list of candidates;
    :class:`InvalidInputError` naming the file and rows when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"run file {path} " + ("is a folder" if path.exists() else "does not exist"))
    problems: list[Problem] = []
    table = read_tsv(path, ["userId", "itemIds"], problems, path.parent.name)
    table = run_table(table, path, problems, path.parent.name) if table is not None else None
    if problems:
        raise InvalidInputError.from_problems(problems, f"run file {path}")
    return table
