"""Webhook delivery (docs/integrations.md "Webhooks"): `sender` makes one signed POST to
one checked address, `worker` takes due webhooks and drains each one's events in order."""
