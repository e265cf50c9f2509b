"""``python -m culturecart.cli``."""

from culturecart.cli import app

app()
