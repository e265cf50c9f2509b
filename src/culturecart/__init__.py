"""culturecart: multimodal purchase prediction across cultures, and product matching.

The package is layered so that data flows one way::

    data -> encoders -> models -> evaluate/explain/culture -> study -> report

Example:
    >>> from culturecart.data import simulate_marketplace, SimulationConfig
    >>> ds = simulate_marketplace(SimulationConfig(n_users=50, seed=1))
    >>> sorted(ds.tables())
    ['events', 'groups', 'items', 'reviews', 'users']
"""

__version__ = "0.1.0"

# The public API, imported on first use (``import culturecart`` stays light; the study pulls in torch).
_EXPORTS = {
    "PurchasePredictor": "culturecart.predictor",
    "Dataset": "culturecart.data.dataset",
    "make_split": "culturecart.evaluate.splits",
    "run_study": "culturecart.study.run",
    "compare_scopes": "culturecart.culture.rq3",
    "learning_curves": "culturecart.culture.transfer",
    "CultureCartError": "culturecart.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'culturecart' has no attribute {name!r}")
