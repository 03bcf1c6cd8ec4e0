"""Alembic's script directory for every service: this environment and the revision
template; each service's revisions stay in its own `storage/migrations/versions/`."""
