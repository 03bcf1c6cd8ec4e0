"""Laptop mode (docs/api.md "Running it"): every service in one process, on SQLite."""
