"""Laptop mode (shared/API.md "Running it"): every service in one process, on SQLite."""
