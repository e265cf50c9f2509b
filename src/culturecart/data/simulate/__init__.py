"""The simulated multi-country marketplace (the embedded default dataset)."""

from culturecart.data.simulate.marketplace import (
    DEFAULT_COUNTRIES,
    SimulationConfig,
    simulate_marketplace,
    write_marketplace,
)
from culturecart.data.simulate.utility import UtilityRules, country_sensitivities, load_rules

__all__ = [
    "DEFAULT_COUNTRIES",
    "SimulationConfig",
    "UtilityRules",
    "country_sensitivities",
    "load_rules",
    "simulate_marketplace",
    "write_marketplace",
]
