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
