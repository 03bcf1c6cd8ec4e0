"""The live stream, `GET /v1/stream`: fan-out through the channels broker, resume from the log."""
