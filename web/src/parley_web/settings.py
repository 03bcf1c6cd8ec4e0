"""The web image's settings: where to listen, and where the API is when it is not on the
page's own origin (docs/web.md "Serving it from elsewhere")."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARLEY_",
        env_file=".env",
        extra="ignore",
        validate_default=True,
        use_attribute_docstrings=True,
    )

    host: str = "127.0.0.1"
    """Address the web client's file server listens on."""
    port: int = 8000
    """Port the web client's file server listens on."""
    web_api_url: str = ""
    """Origin of the Parley API when it is not the page's own (e.g.
    `https://api.chat.example.com`); it is added to the page's `connect-src` and told to the
    client; the API must then list the page's origin in `PARLEY_CORS_ORIGINS`. Empty: the API
    is behind the same host, as with the chart's Ingress."""

    web_store_origin: str = ""
    """Origin of the object store attachments go to and come from in a cluster (the origin
    of chat's `PARLEY_S3_ENDPOINT`, or `https://s3.REGION.amazonaws.com`): the page uploads
    to and downloads from presigned URLs there, so it is added to `connect-src`; the bucket
    must allow the page's origin in its CORS rules. Empty: files go through the API's own
    origin (the embedded default)."""

    @field_validator("web_api_url", "web_store_origin")
    @classmethod
    def _an_origin(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
            raise ValueError("an origin such as https://api.example.com, with no path")
        return f"{parts.scheme}://{parts.netloc}"
