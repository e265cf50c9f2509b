"""One module per section of the report: each turns a finished study's tables into (answer, section body)."""
