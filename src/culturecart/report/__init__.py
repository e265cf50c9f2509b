"""The HTML report: static plots and a self-contained page."""
