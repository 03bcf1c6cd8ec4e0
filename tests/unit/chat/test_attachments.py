"""The attachment rules that need no server: download headers (RFC 6266) for any filename,
the served-type list, image sizes from headers alone, and the local store's upload URL."""

from __future__ import annotations

import asyncio
import io
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from parley_chat.domain import attachments
from parley_chat.storage import files


@given(st.text(min_size=1, max_size=300))
def test_any_filename_makes_a_header_with_no_raw_byte_of_it(filename: str) -> None:
    for content_type in ("image/png", "application/pdf"):
        header = attachments.content_disposition(filename, content_type)
        header.encode("ascii")  # nothing outside ASCII, so no CR, LF or odd byte either
        assert "\r" not in header
        assert "\n" not in header
        kind, plain, extended = header.split("; ")
        assert kind == ("inline" if content_type == "image/png" else "attachment")
        name = plain.removeprefix('filename="').removesuffix('"')
        assert plain == f'filename="{name}"'
        assert name
        assert not set(name) & set('"\\/;:%*?<>|')
        assert not name.startswith(".")
        decoded = urllib.parse.unquote(extended.removeprefix("filename*=UTF-8''"))
        assert "/" not in decoded
        assert "\\" not in decoded
        assert not any(ord(char) < 32 or ord(char) == 127 for char in decoded)


def test_a_filename_keeps_its_letters_in_the_extended_parameter() -> None:
    header = attachments.content_disposition("Straße 北京.pdf", "application/pdf")
    assert header == (
        "attachment; filename=\"Strae .pdf\"; filename*=UTF-8''Stra%C3%9Fe%20%E5%8C%97%E4%BA%AC.pdf"
    )


def test_types_off_the_list_are_served_as_octet_stream() -> None:
    assert attachments.served_type("image/png") == "image/png"
    assert attachments.served_type("Application/PDF; charset=x") == "application/pdf"
    for declared in ("text/html", "image/svg+xml", "application/javascript", "text/xml"):
        assert attachments.served_type(declared) == "application/octet-stream"


def test_an_image_size_comes_from_its_header_only() -> None:
    out = io.BytesIO()
    Image.new("RGB", (640, 480)).save(out, format="JPEG")
    # The header alone, the pixels cut off: the size is still there.
    assert attachments.image_size(out.getvalue()[:1024], "image/jpeg") == (640, 480)
    assert attachments.image_size(b"not an image", "image/png") == (None, None)
    assert attachments.image_size(out.getvalue(), "application/pdf") == (None, None)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_an_expired_local_upload_url_is_refused(tmp_path: Path) -> None:
    store = files.LocalStore(tmp_path)
    target = store.upload_target("t/id", size=3, content_type="text/plain", expires_in=-1)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target.url).query)
    with pytest.raises(files.UploadRefused, match="expired"):
        store.check_token("t/id", size=3, expires=int(query["expires"][0]), token=query["token"][0])


def test_a_local_upload_of_another_size_leaves_nothing_behind(tmp_path: Path) -> None:
    store = files.LocalStore(tmp_path)
    for parts in ((b"ab",), (b"ab", b"cd")):
        with pytest.raises(files.UploadRefused):
            asyncio.run(store.receive("t/id", _chunks(*parts), size=3))
    assert asyncio.run(store.stored_size("t/id")) is None
    assert list((tmp_path / "t").iterdir()) == []
    asyncio.run(store.receive("t/id", _chunks(b"a", b"bc"), size=3))
    assert (tmp_path / "t" / "id").read_bytes() == b"abc"


def test_two_local_stores_on_one_directory_share_their_signing_key(tmp_path: Path) -> None:
    one, two = files.LocalStore(tmp_path), files.LocalStore(tmp_path)
    target = one.upload_target("t/id", size=3, content_type="text/plain", expires_in=60)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target.url).query)
    two.check_token("t/id", size=3, expires=int(query["expires"][0]), token=query["token"][0])
