"""`parley`, the command-line client of Parley's public API (shared/API.md)."""
