"""Shared test machinery: real servers on loopback and the backing services they need."""
