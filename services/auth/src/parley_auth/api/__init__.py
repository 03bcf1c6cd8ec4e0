"""HTTP edge of the auth service: decode, call one domain operation, encode."""
