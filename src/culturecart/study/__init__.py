"""The study: one command from data to results and an HTML report."""
