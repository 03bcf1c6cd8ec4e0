"""Adapters to the other services chat depends on."""
