"""Parley's auth service: tenants, users, passwords, access tokens and refresh tokens."""
