import pickle

import numpy as np
import pytest

from culturecart.models.blocks import RowBlock, copy_rows
from culturecart.models.features import ModalityData
from culturecart.models.preprocess import Preprocessor, log1p_columns, skewed_columns


@pytest.fixture
def block():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    return RowBlock(table, np.array([3, 0, 0, 2, 1]))


def test_rows_read_as_the_gathered_array(block):
    dense = block.table[block.index]
    assert block.shape == dense.shape and block.dtype == np.float32 and len(block) == 5
    np.testing.assert_array_equal(np.asarray(block), dense)
    np.testing.assert_array_equal(block[1], dense[1])
    np.testing.assert_array_equal(block[[4, 0], 1:], dense[[4, 0], 1:])
    np.testing.assert_array_equal(block[:, 2], dense[:, 2])
    np.testing.assert_array_equal(block * 2 + 1, dense * 2 + 1)
    assert np.isnan(block).sum() == 0 and block.tolist() == dense.tolist()
    np.testing.assert_array_equal(np.concatenate([block, dense], axis=1), np.hstack([dense, dense]))


def test_selecting_rows_selects_the_index_only(block):
    sub = block[np.array([True, False, True, True, False])][1:]
    assert sub.table is block.table and sub.index.tolist() == [0, 2]
    np.testing.assert_array_equal(np.asarray(sub), block.table[[0, 2]])


def test_of_an_array_is_a_view_and_pickles():
    dense = np.random.default_rng(0).normal(size=(7, 2)).astype(np.float32)
    view = RowBlock.of(dense, np.array([6, 1]))
    assert view.table is dense
    again = pickle.loads(pickle.dumps(view))
    np.testing.assert_array_equal(np.asarray(again), dense[[6, 1]])


def test_copy_rows_in_chunks_equals_one_copy(block):
    out = np.full((5, 3), -1, np.float32)
    copy_rows(block, out, chunk=2)
    np.testing.assert_array_equal(out, np.asarray(block))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="2-D table"):
        RowBlock(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match="integer row index"):
        RowBlock(np.zeros((3, 1)), np.array([0.5]))


def test_modality_rows_do_not_copy_values():
    table = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    data = ModalityData({"offer": table, "image": RowBlock(table[:5], np.arange(50) % 5)}, {"offer": list("abcd"),
                        "image": list("abcd")}, {"offer": np.ones(50, bool), "image": np.ones(50, bool)},
                        np.zeros(50, np.int64), __import__("pandas").DataFrame({"country": ["DE"] * 50}))
    part = data.rows(np.arange(10, 40)).rows(np.arange(5))
    assert part.blocks["offer"].table is table and part.blocks["image"].table.shape == (5, 4)
    np.testing.assert_array_equal(np.asarray(part.blocks["offer"]), table[10:15])
    np.testing.assert_array_equal(np.asarray(part.blocks["image"]), table[np.arange(10, 15) % 5])


def _whole_block_stats(x: np.ndarray, log_skewed: bool) -> tuple[np.ndarray, ...]:
    """The statistics computed on the whole float64 block at once (the definition)."""
    log = skewed_columns(x) if log_skewed else np.zeros(x.shape[1], bool)
    x = log1p_columns(x, log)
    median = np.nan_to_num(np.nanmedian(x, axis=0))
    filled = np.where(np.isnan(x), median, x)
    return median, filled.mean(axis=0), filled.std(axis=0), np.isnan(x).any(axis=0), log


@pytest.mark.parametrize("width", [1, 7, 9, 45])
def test_column_grouped_fit_equals_the_whole_block_bit_for_bit(width):
    rng = np.random.default_rng(width)
    x = rng.lognormal(size=(3000, width)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    present = rng.random(3000) < 0.9
    data = ModalityData({"offer": RowBlock.of(x, np.arange(3000))}, {"offer": [f"c{i}" for i in range(width)]},
                        {"offer": present}, np.zeros(3000, np.int64), __import__("pandas").DataFrame(index=range(3000)),
                        {"offer": "tabular"})
    st = Preprocessor(log_skewed=True).fit(data).stats["offer"]
    median, mean, std, indicate, log = _whole_block_stats(x[present].astype(np.float64), True)
    np.testing.assert_array_equal(st.median, median)
    np.testing.assert_array_equal(st.mean, mean)
    np.testing.assert_array_equal(st.std, np.where(std > 1e-9, std, 1.0))
    np.testing.assert_array_equal(st.indicate, indicate)
    np.testing.assert_array_equal(st.log, log)
