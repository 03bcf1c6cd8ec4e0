"""Pieces every Parley process shares: settings, logging, errors, health, engines, tokens."""
