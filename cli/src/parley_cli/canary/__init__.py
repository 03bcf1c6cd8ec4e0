"""`parley-canary`: a delivery canary, a client of the public API only (docs/observability.md
"Delivery canary").

Every few seconds it sends one message into a chat of its own and receives it on streams
held open on each chat replica; `ledger` decides what each arrival means (on time, late,
duplicated, out of order, lost), `probe` does the I/O, `main` is the command and its
Prometheus metrics.
"""
