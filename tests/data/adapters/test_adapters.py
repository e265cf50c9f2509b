"""Each adapter on a small slice of its real data set (skipped where the data are absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from culturecart.data import validate_dataset
from culturecart.data.adapters import ADAPTERS, SHARED_FOLDERS, convert, get_adapter
from culturecart.data.text import unescape_byte_sequences
from culturecart.registry import UnknownNameError


def test_every_adapter_has_a_shared_folder():
    assert set(ADAPTERS) == set(SHARED_FOLDERS) and all(SHARED_FOLDERS.values())
    with pytest.raises(UnknownNameError, match="choose one of: shoppers"):
        get_adapter("no-such-format")


def test_shoppers(shared_data):
    ds = convert("shoppers", shared_data("uci_online_shoppers"), limit=500)
    assert validate_dataset(ds) == []
    assert len(ds.events) == 500 and ds.events["purchased"].isin([0, 1]).all()
    assert "bhv_page_values" in ds.events.columns and ds.users["country"].isna().all()
    # anonymised codes are categories (one-hot features), not quantities
    for col in ("operating_system", "browser", "traffic_type"):
        assert ds.events[col].map(type).eq(str).all(), col


def test_shoppers_raw_release_missing_values(shared_data):
    ds = convert("shoppers", shared_data("uci_online_shoppers"))
    assert len(ds.events) == 12330 and ds.events["purchased"].sum() == 1908
    # -1 durations and the empty rows of the raw release become missing, never zero
    assert ds.events["bhv_administrative_duration"].isna().sum() >= 14
    assert (ds.events["bhv_administrative_duration"].dropna() >= 0).all()


def test_online_retail(shared_data):
    ds = convert("online-retail", shared_data("uci_online_retail"), limit=250_000)
    assert validate_dataset(ds) == []
    ev = ds.events
    assert ev["purchased"].between(0, 1).all() and 0 < ev["purchased"].mean() < 0.5
    # features use only months before the target month
    assert (ev["bhv_months_since_last"].dropna() >= 1).all()
    users = ds.users.set_index("user_id")
    assert {"GB", "DE", "FR"} <= set(users["country"].dropna())
    assert users.loc[users["country_name"] == "EIRE", "country"].eq("IE").all()


def test_online_retail_label_is_next_month_purchase(tmp_path: Path):
    rows = []
    for month, items in [("2011-01", ["A", "B"]), ("2011-02", ["A"]), ("2011-03", ["B"]), ("2011-04", ["A"])]:
        for day in (1, 28):
            for it in items:
                rows.append(("1000", it, "thing " + it, 1, f"{month}-{day:02d} 10:00:00", 2.0, 17.0, "EIRE"))
    frame = pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                                        "UnitPrice", "CustomerID", "Country"])
    frame.to_csv(tmp_path / "retail.csv", index=False)
    ds = convert("online-retail", tmp_path / "retail.csv", active_months=2, n_popular=0)
    assert validate_dataset(ds) == []
    label = ds.events.set_index(["target_month", "item_id"])["purchased"]
    assert label[("2011-03", "B")] == 1 and label[("2011-03", "A")] == 0
    assert label[("2011-04", "A")] == 1 and label[("2011-04", "B")] == 0
    assert ds.users.loc[0, "country"] == "IE"


def test_amazon_m2(shared_data):
    ds = convert("amazon-m2", shared_data("amazon_m2_test"))
    assert validate_dataset(ds) == []
    assert len(ds.users) == 34_688 + 34_690 + 56_421 + 56_422 - ds.meta["dropped_single_item_sessions"]
    per_session = ds.events.groupby("session_id")["purchased"].agg(["sum", "size"])
    assert (per_session["sum"] == 1).all()  # exactly one target per session
    last = ds.events.sort_values("position").groupby("session_id").tail(1)
    assert (last["purchased"] == 1).all()
    assert set(ds.users["country"]) >= {"FR", "IT", "ES", "DE", "JP", "GB"}


def test_clothing_reviews(shared_data):
    ds = convert("clothing-reviews", shared_data("womens_clothing_reviews"), limit=800)
    assert validate_dataset(ds) == []
    assert "rating" not in ds.reviews.columns and "Rating" not in ds.events.columns
    assert (ds.reviews["text"].str.len() > 0).all()
    assert ds.events["purchased"].mean() > 0.5


def test_marc(shared_data):
    ds = convert("marc", shared_data("marc_reviews_6lang"))
    assert validate_dataset(ds) == []
    assert set(ds.users["country"]) == {"DE", "US", "ES", "FR", "JP", "CN"}
    assert ds.events["purchased"].mean() == pytest.approx(0.4)  # stars balanced: 4 and 5 of 1..5
    assert "rating" not in ds.reviews.columns


def test_shopee_with_sample_images(shared_data):
    folder = shared_data("shopee_pmg")
    ds = convert("shopee", folder / "train_dev.csv.gz", images=folder / "train_images_sample")
    assert validate_dataset(ds) == []
    listed = set(ds.items["image"])
    on_disk = {p.name for p in (folder / "train_images_sample").iterdir()}
    # 80% of groups are here, so only the sample images of those groups can be linked
    assert ds.items["image_path"].notna().sum() == ds.items["image"].isin(on_disk & listed).sum() > 0
    assert ds.meta["images_missing"] == len(ds.items) - ds.items["image_path"].notna().sum()
    assert not ds.items["title"].str.contains(r"\\x[0-9a-f]{2}", regex=True).any()
    assert ds.groups["label_group"].nunique() == 8711


@pytest.mark.parametrize(("body", "match"), [
    ("a,a.jpg,nothex!!nothex!!,t,1\n", "16 hex"),
    ("a,a.jpg,94974f937d4c2433,t,1\na,b.jpg,94974f937d4c2433,u,1\n", "duplicate posting_id"),
])
def test_shopee_bad_input(tmp_path: Path, body: str, match: str):
    src = tmp_path / "bad.csv"
    src.write_text("posting_id,image,image_phash,title,label_group\n" + body)
    with pytest.raises(ValueError, match=match):
        convert("shopee", src)


def test_shopee_empty_title_and_one_row(tmp_path: Path):
    src = tmp_path / "one.csv"
    src.write_text("posting_id,image,image_phash,title\nx,x.jpg,94974f937d4c2433,\n")
    ds = convert("shopee", src)
    assert validate_dataset(ds) == [] and ds.items.loc[0, "title"] == "" and ds.groups is None


def test_missing_source_and_missing_columns(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        convert("marc", tmp_path / "absent.csv.gz")
    bad = tmp_path / "bad.csv"
    bad.write_text("language,text\nen,hello\n")
    with pytest.raises(ValueError, match="stars"):
        convert("marc", bad)


def test_unescape_invalid_utf8_is_replaced_not_dropped():
    assert unescape_byte_sequences(r"a\xffb") == "a\ufffdb"
    assert unescape_byte_sequences("plain") == "plain"
