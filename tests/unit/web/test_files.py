"""The web client's file server (parley_web.files): what every answer carries, and what
it refuses, called as the ASGI app it is."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from parley_web import files
from parley_web.settings import WebSettings


def get(app: files.WebApp, path: str, method: str = "GET", **headers: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            return await client.request(method, path, headers=headers)

    return asyncio.run(call())


def test_the_page_and_its_modules_are_served_with_a_strict_content_security_policy() -> None:
    app = files.WebApp()
    for path, kind in [
        ("/", "text/html"),
        ("/js/app.js", "text/javascript"),
        ("/app.css", "text/css"),
    ]:
        answer = get(app, path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith(kind), path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "style-src 'self';" in policy
        assert "connect-src 'self';" in policy
        # Attachments are read with the token and shown from blob: URLs (docs/web.md).
        assert "img-src 'self' data: blob:;" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-cache"


def test_the_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere() -> None:
    page = get(files.WebApp(), "/").text
    assert "<script>" not in page
    assert "<style" not in page
    assert " style=" not in page
    assert "http://" not in page
    assert "https://" not in page


def test_an_unchanged_file_is_answered_with_304_and_its_etag() -> None:
    app = files.WebApp()
    first = get(app, "/js/api.js")
    again = get(app, "/js/api.js", **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/nothing-here.js", "GET", 404),
        ("/../pyproject.toml", "GET", 404),
        ("/", "POST", 405),
        ("/", "HEAD", 200),
        ("/healthz", "GET", 200),
    ],
)
def test_only_the_clients_files_are_served_and_only_to_get_and_head(
    path: str, method: str, status: int
) -> None:
    answer = get(files.WebApp(), path, method)
    assert answer.status_code == status, (path, method)
    assert "content-security-policy" in answer.headers


def test_an_api_elsewhere_is_named_in_the_config_and_allowed_by_the_policy() -> None:
    settings = WebSettings(web_api_url="https://api.chat.example.com/")
    app = files.WebApp(api_url=settings.web_api_url)
    assert get(app, "/config.json").json() == {"api_url": "https://api.chat.example.com"}
    policy = get(app, "/").headers["content-security-policy"]
    assert "connect-src 'self' https://api.chat.example.com wss://api.chat.example.com;" in policy


@pytest.mark.parametrize("bad", ["api.example.com", "ftp://api.example.com", "https://a.b/v1"])
def test_an_api_url_that_is_not_an_origin_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="web_api_url"):
        WebSettings(web_api_url=bad)


def test_an_object_store_is_allowed_by_the_policy_for_presigned_uploads_and_downloads() -> None:
    settings = WebSettings(web_store_origin="https://s3.eu-west-1.amazonaws.com/")
    app = files.WebApp(store_origin=settings.web_store_origin)
    policy = get(app, "/").headers["content-security-policy"]
    assert "connect-src 'self' https://s3.eu-west-1.amazonaws.com;" in policy
    # The store is not an API: the client is not told to call it.
    assert get(app, "/config.json").json() == {"api_url": ""}
    with pytest.raises(ValueError, match="web_store_origin"):
        WebSettings(web_store_origin="s3.amazonaws.com/bucket")
