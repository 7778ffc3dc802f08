"""One module per pipeline stage: a pure build function behind a thin cached Prefect task."""
