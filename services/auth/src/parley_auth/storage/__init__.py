"""The auth service's tables and the queries over them; every query names its tenant."""
