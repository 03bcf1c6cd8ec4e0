"""docs/api.md "Attachments", the same suite against both stores: chat's own directory (the
embedded default) and an S3-compatible object store (moto's server, presigned URLs over
real sockets), each on both databases."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import chat
from support.attachments import Files, Store, png
from support.auth import AuthApi
from support.chat import ChatApi
from support.chat_search import search
from support.problems import case, invalid, problem
from support.stream import StreamClient, token_of


@pytest.fixture
def chats(files_server: str, api: AuthApi, database_url: str) -> Iterator[ChatApi]:
    client = ChatApi(files_server, api)
    try:
        yield client
    finally:
        client.close()
        chat.truncate(database_url)


@pytest.fixture
def files(chats: ChatApi) -> Iterator[Files]:
    client = Files(chats)
    try:
        yield client
    finally:
        client.close()


# -- uploading ------------------------------------------------------------------------------


def test_an_upload_answers_where_to_put_the_bytes(chats: ChatApi, files: Files) -> None:
    (alice,) = chats.users(1)
    upload = files.declare(alice, size=11)
    assert set(upload) == {"id", "upload_url", "upload_method", "upload_headers", "expires_at"}
    assert upload["upload_method"] == "PUT"
    assert upload["upload_headers"]["Content-Length"] == "11"
    assert files.put(upload, b"hello, file").status_code == 200


def test_a_size_over_max_attachment_bytes_is_413(chats: ChatApi) -> None:
    (alice,) = chats.users(1, chats.tenant(limits={"max_attachment_bytes": 100}))
    response = chats.http.post(
        "/v1/attachments",
        json={"filename": "big.bin", "content_type": "application/zip", "size": 101},
        headers=alice.headers,
    )
    assert "max_attachment_bytes" in problem(response, 413)["detail"]


def test_the_default_max_attachment_bytes_is_25_mib(chats: ChatApi, files: Files) -> None:
    (alice,) = chats.users(1)
    files.declare(alice, size=26_214_400)
    response = chats.http.post(
        "/v1/attachments",
        json={"filename": "big.bin", "content_type": "application/zip", "size": 26_214_401},
        headers=alice.headers,
    )
    problem(response, 413)


def test_a_bad_upload_declaration_is_a_422_naming_the_field(chats: ChatApi) -> None:
    (alice,) = chats.users(1)
    good = {"filename": "a.txt", "content_type": "text/plain", "size": 1}
    for name, value in [
        ("size", -1),
        ("size", 1.5),
        ("size", None),
        ("filename", "x" * 10_000),
        ("filename", ""),
        ("filename", "line\nbreak.txt"),
        ("filename", "   "),
        ("filename", 5),
        ("content_type", "not a type"),
        ("content_type", "text/plain\r\nX-Evil: 1"),
        ("content_type", ["text/plain"]),
    ]:
        with case(name, value):
            response = chats.http.post(
                "/v1/attachments", json={**good, name: value}, headers=alice.headers
            )
            invalid(response, name)


def test_an_upload_needs_a_token(chats: ChatApi) -> None:
    response = chats.http.post(
        "/v1/attachments", json={"filename": "a.txt", "content_type": "text/plain", "size": 1}
    )
    problem(response, 401)


def test_an_upload_of_another_size_never_becomes_an_attachment(
    chats: ChatApi, files: Files, store: Store
) -> None:
    alice, bob = chats.users(2)
    room = chats.group(alice, bob)
    for content in (b"short", b"a body that is longer than declared"):
        with case(content):
            upload = files.declare(alice, size=10)
            headers = {**upload["upload_headers"], "Content-Length": str(len(content))}
            response = files.http.put(
                files.absolute(upload["upload_url"]), content=content, headers=headers
            )
            if store.kind == "local":
                problem(response, 403)
            else:
                # Content-Length is a signed header: S3 itself answers 403. moto checks no
                # signature, so chat's own check at send time is what this shows there.
                assert response.status_code in (200, 403), response.text
            invalid(files.send(alice, room["id"], [upload["id"]]), "attachments")


def test_an_upload_url_binds_its_size_and_runs_out(
    chats: ChatApi, files: Files, store: Store
) -> None:
    (alice,) = chats.users(1)
    upload = files.declare(alice, size=4)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(upload["upload_url"]).query)
    if store.kind == "s3":
        assert "content-length" in query["X-Amz-SignedHeaders"][0].split(";")
        assert int(query["X-Amz-Expires"][0]) <= 3600
        return
    # The local store's URL: a changed size or an expiry in the past breaks its signature,
    # and an expiry that passed is refused however it was signed (test_files.py).
    for changed in ({"size": "5"}, {"expires": str(int(time.time()) - 1)}, {"token": "x"}):
        with case(changed):
            forged = urllib.parse.urlencode({**{k: v[0] for k, v in query.items()}, **changed})
            path = upload["upload_url"].split("?")[0]
            response = files.http.put(
                files.absolute(f"{path}?{forged}"),
                content=b"abcd",
                headers=upload["upload_headers"],
            )
            problem(response, 403)
    assert files.put(upload, b"abcd").status_code == 200
    # A finished upload's URL does not take a second body.
    problem(files.put(upload, b"efgh"), 403)


# -- sending --------------------------------------------------------------------------------


def test_a_message_carries_its_attachments_everywhere_it_is_read(
    chats: ChatApi, files: Files
) -> None:
    alice, bob = chats.users(2)
    room = chats.group(alice, bob)
    root = chats.send(alice, room["id"], "the root")
    image = files.upload(alice, png(3, 2), filename="dot.png", content_type="image/png")
    document = files.upload(alice, b"%PDF-1.4", filename="plan.pdf", content_type="application/pdf")
    with StreamClient(chats.url, token_of(bob)) as stream:
        response = chats.http.post(
            f"/v1/chats/{room['id']}/messages",
            json={"body": "findable plans", "attachments": [image, document], "reply_to": 1},
            headers=alice.headers,
        )
        assert response.status_code == 201, response.text
        (frame,) = stream.messages(1)
    sent = response.json()
    expected = [
        {
            "id": image,
            "filename": "dot.png",
            "content_type": "image/png",
            "size": len(png(3, 2)),
            "url": f"/v1/attachments/{image}",
            "width": 3,
            "height": 2,
        },
        {
            "id": document,
            "filename": "plan.pdf",
            "content_type": "application/pdf",
            "size": 8,
            "url": f"/v1/attachments/{document}",
        },
    ]
    assert sent["attachments"] == expected
    assert frame["message"]["attachments"] == expected
    (listed,) = [m for m in chats.history(bob, room["id"])["messages"] if m["seq"] == sent["seq"]]
    assert listed["attachments"] == expected
    thread = chats.http.get(f"/v1/chats/{room['id']}/threads/{root['seq']}", headers=bob.headers)
    assert thread.json()["messages"][-1]["attachments"] == expected
    found = search(chats, bob, "findable").json()
    assert [hit["message"]["attachments"] for hit in found["results"]] == [expected]


def test_a_message_of_files_alone_needs_no_body(chats: ChatApi, files: Files) -> None:
    (alice,) = chats.users(1)
    room = chats.group(alice)
    response = files.send(alice, room["id"], [files.upload(alice)])
    assert response.status_code == 201, response.text
    assert response.json()["body"] == ""
    invalid(files.send(alice, room["id"], []), "body")


def test_eleven_attachments_are_a_422_naming_attachments(chats: ChatApi, files: Files) -> None:
    (alice,) = chats.users(1)
    room = chats.group(alice)
    ids = [files.upload(alice) for _ in range(11)]
    invalid(files.send(alice, room["id"], ids), "attachments")
    assert files.send(alice, room["id"], ids[:10]).status_code == 201


def test_an_upload_that_is_not_the_senders_complete_and_unsent_one_is_a_422(
    chats: ChatApi, files: Files
) -> None:
    alice, bob = chats.users(2)
    room = chats.group(alice, bob)
    elsewhere = chats.user()
    foreign = files.upload(bob)
    other_tenant = files.upload(elsewhere)
    incomplete = files.declare(alice, size=3)["id"]
    for ids in (
        [str(uuid.uuid4())],
        [foreign],
        [other_tenant],
        [incomplete],
        ["not-a-uuid"],
        [files.upload(alice)] * 2,
    ):
        with case(ids):
            invalid(files.send(alice, room["id"], ids), "attachments")
    # None of those was taken by the failed sends.
    assert files.send(bob, room["id"], [foreign]).status_code == 201


def test_an_attachment_is_sent_once(chats: ChatApi, files: Files) -> None:
    (alice,) = chats.users(1)
    room = chats.group(alice)
    once = files.upload(alice)
    assert files.send(alice, room["id"], [once]).status_code == 201
    last = chats.chat(alice, room["id"])["last_seq"]
    invalid(files.send(alice, room["id"], [once]), "attachments")
    assert chats.chat(alice, room["id"])["last_seq"] == last  # no seq was spent


def test_a_retried_send_gets_its_message_back_with_its_attachments(
    chats: ChatApi, files: Files
) -> None:
    (alice,) = chats.users(1)
    room = chats.group(alice)
    body = {"body": "x", "attachments": [files.upload(alice)], "client_msg_id": "m-1"}
    first = chats.http.post(f"/v1/chats/{room['id']}/messages", json=body, headers=alice.headers)
    again = chats.http.post(f"/v1/chats/{room['id']}/messages", json=body, headers=alice.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


# -- downloading ------------------------------------------------------------------------------


def test_the_uploader_and_members_download_it_and_nobody_else(chats: ChatApi, files: Files) -> None:
    alice, bob, carol = chats.users(3)
    room = chats.group(alice, bob)
    content = b"the minutes"
    attachment = files.upload(alice, content)
    assert files.fetch(alice, attachment).content == content  # sent nowhere yet
    problem(files.download(bob, attachment), 404)
    assert files.send(alice, room["id"], [attachment]).status_code == 201
    assert files.fetch(bob, attachment).content == content
    problem(files.download(carol, attachment), 404)
    problem(files.download(chats.user(), attachment), 404)
    problem(files.download(alice, str(uuid.uuid4())), 404)
    problem(chats.http.get(f"/v1/attachments/{attachment}"), 401)


def test_a_member_removed_from_the_chat_loses_its_files_at_once(
    chats: ChatApi, files: Files
) -> None:
    alice, bob = chats.users(2)
    room = chats.group(alice, bob)
    attachment = files.upload(alice)
    assert files.send(alice, room["id"], [attachment]).status_code == 201
    assert files.download(bob, attachment).status_code in (200, 302)
    removed = chats.http.delete(
        f"/v1/chats/{room['id']}/members/{bob.username}", headers=alice.headers
    )
    assert removed.status_code == 204, removed.text
    problem(files.download(bob, attachment), 404)


def test_downloads_are_never_sniffed_and_only_images_are_inline(
    chats: ChatApi, files: Files, store: Store
) -> None:
    (alice,) = chats.users(1)
    for filename, declared, served, disposition in [
        ("dot.png", "image/png", "image/png", "inline"),
        ("plan.pdf", "application/pdf", "application/pdf", "attachment"),
        ("page.html", "text/html", "application/octet-stream", "attachment"),
        ("logo.svg", "image/svg+xml", "application/octet-stream", "attachment"),
    ]:
        with case(filename):
            attachment = files.upload(alice, png(), filename=filename, content_type=declared)
            first = files.download(alice, attachment)
            assert first.headers["x-content-type-options"] == "nosniff"
            final = files.fetch(alice, attachment)
            assert final.status_code == 200
            assert final.headers["content-type"].split(";")[0] == served
            assert final.headers["content-disposition"].startswith(f"{disposition}; filename=")
            assert final.content == png()
            if store.kind == "local":
                assert final.headers["x-content-type-options"] == "nosniff"
            else:
                assert first.status_code == 302


def test_an_odd_filename_reaches_the_header_sanitised(chats: ChatApi, files: Files) -> None:
    (alice,) = chats.users(1)
    name = '../"évil"\\name;.pdf'
    attachment = files.upload(alice, b"x", filename=name, content_type="application/pdf")
    header = files.fetch(alice, attachment).headers["content-disposition"]
    plain = header.split('filename="', 1)[1].split('"', 1)[0]
    assert not set(plain) & set('"/\\\r\n;')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert urllib.parse.unquote(encoded) == '.._"évil"_name;.pdf'


# -- lifecycle -------------------------------------------------------------------------------


def test_a_deleted_message_hides_its_files_and_a_purged_tenant_its_own(
    chats: ChatApi, files: Files
) -> None:
    alice, bob = chats.users(2)
    room = chats.group(alice, bob)
    attachment = files.upload(alice)
    sent = files.send(alice, room["id"], [attachment]).json()
    deleted = chats.http.delete(
        f"/v1/chats/{room['id']}/messages/{sent['seq']}", headers=alice.headers
    )
    assert deleted.status_code == 204
    problem(files.download(bob, attachment), 404)
    problem(files.download(alice, attachment), 404)
    assert chats.history(bob, room["id"])["messages"][-1]["attachments"] == []
    kept = files.upload(alice)
    purge = chats.http.delete(f"/internal/v1/tenants/{alice.tenant}", headers=chats.admin)
    assert purge.status_code == 204
    problem(files.download(alice, kept), 404)


def test_files_are_streamed_in_chunks(chats: ChatApi, files: Files, tmp_path: Path) -> None:
    (alice,) = chats.users(1)
    content = bytes(range(256)) * 20_000  # 5 MB, several chunks each way
    upload = files.declare(
        alice, size=len(content), filename="blob.zip", content_type="application/zip"
    )
    chunks = (content[start : start + 65_536] for start in range(0, len(content), 65_536))
    assert files.put(upload, chunks).status_code == 200
    assert files.fetch(alice, upload["id"]).content == content
