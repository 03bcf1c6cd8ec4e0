"""`parley`, the command-line client of Parley's public API (docs/api.md)."""
