"""Parley's Kubernetes operator: Tenant resources reconciled against the services' Internal API."""
