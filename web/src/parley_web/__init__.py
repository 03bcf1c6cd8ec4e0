"""Parley's web client (docs/web.md): the files under `static/`, and the ASGI app that
serves them, mounted at `/` by the embedded default and run alone in the web image."""
