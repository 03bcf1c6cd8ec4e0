"""Auth rules: who may register and log in, and how tokens are minted, rotated and revoked."""
