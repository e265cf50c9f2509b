"""Data layer: the canonical schema, validation, Hofstede profiles, adapters and the simulator."""

from culturecart.data.dataset import Dataset
from culturecart.data.hofstede import DIMENSIONS, hofstede_profiles, load_hofstede, shipped_hofstede
from culturecart.data.schema import SCHEMAS, TABLES, Problem, validate_table
from culturecart.data.simulate import SimulationConfig, simulate_marketplace, write_marketplace
from culturecart.data.validate import require_valid, validate_dataset

__all__ = [
    "DIMENSIONS",
    "SCHEMAS",
    "TABLES",
    "Dataset",
    "Problem",
    "SimulationConfig",
    "hofstede_profiles",
    "load_hofstede",
    "require_valid",
    "shipped_hofstede",
    "simulate_marketplace",
    "validate_dataset",
    "validate_table",
    "write_marketplace",
]
