"""User history features: the user's sessions, purchases and purchase rate in strictly earlier sessions.

Sessions are ordered by start time, then session id (a stable, order-free rule), so an event's history does not
depend on how the data is chunked or ordered.

Example:
    >>> import pandas as pd
    >>> events = pd.DataFrame({"user_id": ["u", "u"], "session_id": ["s1", "s2"], "purchased": [1, 0],
    ...                        "timestamp": ["2024-01-01", "2024-01-02"]})
    >>> history_features(events)["user_prior_purchases"].tolist()
    [0.0, 1.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HISTORY_NAMES = ["user_prior_sessions", "user_prior_purchases", "user_prior_purchase_rate"]


def session_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, session): its start and the purchases in it (0 where the events carry no label)."""
    ev = pd.DataFrame({"user_id": events["user_id"].astype(str), "session_id": events["session_id"].astype(str),
                       "timestamp": pd.to_datetime(events["timestamp"]),
                       "purchased": events.get("purchased", 0)})
    return ev.groupby(["user_id", "session_id"], sort=False).agg(
        start=("timestamp", "min"), bought=("purchased", "sum")).reset_index()


def history_features(events: pd.DataFrame, stored: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per event: the user's sessions, purchases and purchase rate in strictly earlier sessions.

    ``stored`` holds sessions seen before (at fit time); a session in both counts once. Sessions are
    ordered by start time, then session id (a stable, order-free rule).
    """
    sessions = session_table(events)
    if stored is not None and len(stored):
        sessions = pd.concat([stored, sessions], ignore_index=True).drop_duplicates(["user_id", "session_id"])
    sessions = sessions.sort_values(["user_id", "start", "session_id"], kind="stable")
    g = sessions.groupby("user_id", sort=False)
    sessions["prior_sessions"] = g.cumcount().astype(float)
    sessions["prior_purchases"] = (g["bought"].cumsum() - sessions["bought"]).astype(float)
    sessions["prior_purchase_rate"] = sessions["prior_purchases"] / sessions["prior_sessions"].replace(0, np.nan)
    keyed = sessions.set_index(["user_id", "session_id"])[["prior_sessions", "prior_purchases", "prior_purchase_rate"]]
    index = pd.MultiIndex.from_arrays([events["user_id"].astype(str), events["session_id"].astype(str)])
    return keyed.reindex(index).reset_index(drop=True).add_prefix("user_")
