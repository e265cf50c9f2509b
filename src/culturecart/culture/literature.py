"""Prior findings on culture and online purchase behaviour, as data: feature, Hofstede dimension, expected sign.

``evidence`` says whether a row reports a measured association (``empirical``) or a direction argued from
theory (``theory``). The simulator's default rules (``data/simulate/rules.yaml``) plant these same
directions, so on simulated data agreement checks recovery; on real data it is the research question.
Hofstede's uncertainty avoidance deserves caution: Minkov (2018, Cross Cultural & Strategic Management
25:231-256) questions the reliability of UAI measures, so UAI rows carry that note.
"""

from __future__ import annotations

import pandas as pd

KIM_2019 = ("Kim (2019), Electronic Commerce Research and Applications 37:100878 "
            "(>10M hotel bookings, 2 platforms)")
AL_KAILANI_KUMAR_2011 = "Al Kailani & Kumar (2011), Journal of International Marketing 19(1):76-92"
MINKOV_NOTE = "Minkov (2018) cautions that UAI measures are of doubtful reliability"

_ROWS = [
    ("rating", "idv", -1, "empirical", KIM_2019, "collectivism raises reliance on review ratings"),
    ("rating", "mas", -1, "empirical", KIM_2019, "femininity raises reliance on review ratings"),
    ("rating", "uai", +1, "empirical", KIM_2019, f"uncertainty avoidance raises it; {MINKOV_NOTE}"),
    ("rating", "ivr", +1, "empirical", KIM_2019, "indulgence raises reliance on review ratings"),
    ("rating", "pdi", -1, "empirical", KIM_2019, "power distance lowers reliance on review ratings"),
    ("baseline_propensity", "uai", -1, "empirical", AL_KAILANI_KUMAR_2011,
     f"higher UAI -> higher perceived risk -> less online buying; {MINKOV_NOTE}"),
    ("review_count", "uai", +1, "theory", KIM_2019, "more reviews reduce uncertainty (extension of Kim 2019)"),
    ("free_shipping", "uai", +1, "theory", AL_KAILANI_KUMAR_2011, "free shipping lowers perceived monetary risk"),
    ("brand_premium", "pdi", +1, "empirical", "Roth (1995), Journal of Marketing Research 32:163-175",
     "social/status brand images work better in high power-distance cultures"),
    ("discount_rate", "lto", +1, "theory", "de Mooij (2010), Global Marketing and Advertising, 3rd ed.",
     "long-term orientation includes thrift"),
    ("review_index", "idv", -1, "empirical", "Lam, Lee & Mizerski (2009), Journal of International Marketing "
     "17(3):55-70", "collectivists rely more on others' word of mouth"),
    ("review_index", "uai", +1, "empirical", "Lam, Lee & Mizerski (2009), Journal of International Marketing "
     "17(3):55-70", f"uncertainty-avoiding consumers rely more on word of mouth; {MINKOV_NOTE}"),
    ("image_index", "ivr", +1, "theory", "Hofstede, Hofstede & Minkov (2010), Cultures and Organizations, 3rd ed.",
     "indulgent cultures weigh hedonic, visual appeal more"),
]


def literature_table() -> pd.DataFrame:
    """The prior findings (one row per feature x dimension expectation).

    Example:
        >>> t = literature_table()
        >>> t.loc[(t.feature == "rating") & (t.dimension == "pdi"), "expected_sign"].item()
        -1
    """
    return pd.DataFrame(_ROWS, columns=["feature", "dimension", "expected_sign", "evidence", "source", "note"])
