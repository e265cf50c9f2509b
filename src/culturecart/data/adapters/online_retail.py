"""UCI Online Retail (Chen, Sain & Guo 2012): invoice lines of a UK gift-ware e-retailer.

The data has purchases only, so the adapter defines the prediction task (all choices are options):

* a **candidate table** per customer x month ``m``: for every customer active in the
  ``active_months`` before ``m``, the items they bought before ``m`` (their ``n_history`` most
  frequent) plus the ``n_popular`` items bought by most customers in month ``m - 1``;
* **label** ``purchased`` = the customer buys the item in month ``m`` ("bought in the next month");
* **behaviour features** computed from strictly earlier months only (no leakage):
  ``bhv_times_bought`` (months with a purchase of the item), ``bhv_months_since_last`` (missing if
  never bought), ``bhv_customer_months`` (active months), ``bhv_customer_log_spend``,
  ``bhv_item_customers_prev_month`` (popularity);
* months whose data cover fewer than 25 days (the partial last month) are not targets.

Cleaning: cancellations (invoice numbers starting with ``C``), non-positive quantities or prices
and lines without a customer id are dropped; ``Description == "Unknown"`` is missing. Items carry the
most frequent description as title, the median unit price, and a **quantity discount**
``discount_rate = 1 - median price at quantity >= 12 / median price below 12`` (clipped to [0, 1],
missing where either side is unobserved). Countries map to ISO codes (EIRE -> IE, RSA -> ZA);
"Channel Islands", "European Community" and "Unspecified" have none and stay missing, with the
original name kept in ``country_name``. Works on any year of the same format (Online Retail II too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.data.adapters._common import first_existing, numeric_column, read_csv, to_iso2
from culturecart.data.dataset import Dataset
from culturecart.errors import InvalidInputError

COLUMN_ALIASES = {"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}
REQUIRED = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]


def load_transactions(path: Path, limit: int | None = None) -> pd.DataFrame:
    """Clean invoice lines (purchases only) with a ``month`` period column."""
    raw = read_csv(path, limit, [], dtype={"InvoiceNo": str, "Invoice": str, "StockCode": str})
    raw = raw.rename(columns=COLUMN_ALIASES)
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise InvalidInputError(f"{path}: missing column(s) {missing}; found {list(raw.columns)}")
    for col in ("Quantity", "UnitPrice", "CustomerID"):
        raw[col] = numeric_column(raw, col, path)
    tx = raw[~raw["InvoiceNo"].astype(str).str.startswith("C")]
    tx = tx[(tx["Quantity"] > 0) & (tx["UnitPrice"] > 0) & tx["CustomerID"].notna()].copy()
    tx["CustomerID"] = tx["CustomerID"].astype(float).astype(np.int64).astype(str)
    tx["StockCode"] = tx["StockCode"].astype(str).str.strip().str.upper()
    tx["Description"] = tx["Description"].where(tx["Description"] != "Unknown")
    try:
        tx["InvoiceDate"] = pd.to_datetime(tx["InvoiceDate"])
    except (ValueError, TypeError) as err:
        raise InvalidInputError(f"{path}: column 'InvoiceDate' holds a value that is not a date ({err})") from None
    tx["month"] = tx["InvoiceDate"].dt.to_period("M")
    return tx


def _items(tx: pd.DataFrame) -> pd.DataFrame:
    def mode(s: pd.Series) -> object:
        m = s.dropna().mode()
        return m.iat[0] if len(m) else None

    g = tx.groupby("StockCode")
    items = pd.DataFrame({"title": g["Description"].agg(mode), "price": g["UnitPrice"].median()})
    bulk = tx[tx["Quantity"] >= 12].groupby("StockCode")["UnitPrice"].median()
    single = tx[tx["Quantity"] < 12].groupby("StockCode")["UnitPrice"].median()
    items["discount_rate"] = (1 - bulk / single).clip(0, 1).reindex(items.index)
    return items.rename_axis("item_id").reset_index()


def _users(tx: pd.DataFrame) -> pd.DataFrame:
    name = tx.groupby("CustomerID")["Country"].agg(lambda s: s.mode().iat[0])
    users = pd.DataFrame({"user_id": name.index, "country_name": name.to_numpy()})
    users["country"] = users["country_name"].map(to_iso2).astype(object)
    return users[["user_id", "country", "country_name"]]


def _candidates(tx: pd.DataFrame, n_history: int, n_popular: int, active_months: int,
                min_days: int) -> pd.DataFrame:
    cim = tx.groupby(["CustomerID", "StockCode", "month"], as_index=False).size()
    spend = (tx["Quantity"] * tx["UnitPrice"]).groupby([tx["CustomerID"], tx["month"]]).sum()
    months = sorted(tx["month"].unique())
    span = tx.groupby("month")["InvoiceDate"].agg(["min", "max"])
    days = (span["max"] - span["min"]).dt.days + 1
    frames = []
    for m in months[active_months:]:
        if days[m] < min_days:
            continue
        hist = cim[cim["month"] < m]
        recent = hist[hist["month"] >= m - active_months]
        active = recent["CustomerID"].unique()
        hist = hist[hist["CustomerID"].isin(active)]
        per = hist.groupby(["CustomerID", "StockCode"]).agg(times=("month", "nunique"), last=("month", "max"))
        per = per.reset_index().sort_values(["CustomerID", "times", "last"], ascending=[True, False, False])
        own = per.groupby("CustomerID").head(n_history)[["CustomerID", "StockCode"]]
        prev = cim[cim["month"] == m - 1]
        pop_counts = prev.groupby("StockCode")["CustomerID"].nunique().sort_values(ascending=False)
        popular = pop_counts.index[:n_popular]
        pop_pairs = pd.MultiIndex.from_product([active, popular], names=["CustomerID", "StockCode"]).to_frame(index=False)
        cand = pd.concat([own, pop_pairs]).drop_duplicates()
        cand = cand.merge(per[["CustomerID", "StockCode", "times", "last"]], how="left", on=["CustomerID", "StockCode"])
        cand["bhv_times_bought"] = cand["times"].fillna(0).astype(float)
        cand["bhv_months_since_last"] = [np.nan if pd.isna(x) else float((m - x).n) for x in cand["last"]]
        cust = hist.groupby("CustomerID")["month"].nunique()
        cand["bhv_customer_months"] = cand["CustomerID"].map(cust).astype(float)
        past_spend = spend[spend.index.get_level_values("month") < m].groupby(level=0).sum()
        cand["bhv_customer_log_spend"] = np.log1p(cand["CustomerID"].map(past_spend).fillna(0.0))
        cand["bhv_item_customers_prev_month"] = cand["StockCode"].map(pop_counts).fillna(0).astype(float)
        bought = set(zip(cim.loc[cim["month"] == m, "CustomerID"], cim.loc[cim["month"] == m, "StockCode"], strict=True))
        cand["purchased"] = [int((c, s) in bought) for c, s in zip(cand["CustomerID"], cand["StockCode"], strict=True)]
        cand["target_month"] = str(m)
        cand["timestamp"] = m.to_timestamp()
        frames.append(cand.drop(columns=["times", "last"]))
    if not frames:
        raise InvalidInputError(f"not enough months of data for candidate tables (need > {active_months} months)")
    return pd.concat(frames, ignore_index=True)


def convert_online_retail(src: str | Path, images: Path | None = None, limit: int | None = None,
                          n_history: int = 20, n_popular: int = 10, active_months: int = 3,
                          min_days: int = 25) -> Dataset:
    """Convert ``online_retail.csv(.gz)`` (or its folder) to a customer x item x month purchase table."""
    path = Path(src)
    if path.is_dir():
        path = first_existing(path / "online_retail.csv.gz", path / "online_retail.csv")
    read_csv(path, 1, [])  # existence check with a clear message
    tx = load_transactions(path, limit)
    cand = _candidates(tx, n_history, n_popular, active_months, min_days)
    events = cand.rename(columns={"CustomerID": "user_id", "StockCode": "item_id"})
    events.insert(0, "session_id", events["user_id"] + "-" + events["target_month"])
    events = events.sort_values(["timestamp", "session_id", "item_id"]).reset_index(drop=True)
    items = _items(tx)
    users = _users(tx)
    return Dataset(users=users, items=items, events=events, meta={
        "name": "uci-online-retail", "source": str(path),
        "label": "purchased = the customer buys the item in the target month (candidates: own history + "
                 "previous month's popular items)",
        "citation": "Chen, Sain & Guo (2012), J. Database Marketing & Customer Strategy Management 19(3)",
        "options": {"n_history": n_history, "n_popular": n_popular, "active_months": active_months,
                    "min_days": min_days},
    })
