"""Multiple-testing correction (Benjamini-Hochberg false discovery rate), NaN-aware.

Example:
    >>> import numpy as np
    >>> benjamini_hochberg(np.array([0.01, np.nan, 0.04, 0.03])).round(3).tolist()
    [0.03, nan, 0.04, 0.04]
"""

from __future__ import annotations

import numpy as np
from statsmodels.stats.multitest import multipletests


def benjamini_hochberg(p_values) -> np.ndarray:
    """BH-adjusted p-values; NaN entries stay NaN and do not count as tests."""
    p = np.asarray(p_values, float)
    out = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out
