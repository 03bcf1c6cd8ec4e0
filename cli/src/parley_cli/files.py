"""Files for `parley send --file` and `parley download`: streamed from and to disk a chunk
at a time (a file is never read whole), with a progress bar on a terminal for large ones."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from parley_cli import api
from parley_cli.errors import UsageError

CHUNK_BYTES = 256 * 1024
PROGRESS_FROM_BYTES = 1024 * 1024
"""Smaller files go by too fast for a bar to say anything."""


def content_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _bar(err: IO[str], size: int) -> AbstractContextManager[Progress | None]:
    if size < PROGRESS_FROM_BYTES or not err.isatty():
        return nullcontext()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(file=err),
        transient=True,
    )


def _chunks(source: IO[bytes], progress: Progress | None, task: TaskID | None) -> Iterator[bytes]:
    while chunk := source.read(CHUNK_BYTES):
        if progress is not None and task is not None:
            progress.advance(task, len(chunk))
        yield chunk


def upload(client: api.Client, path: Path, err: IO[str]) -> str:
    """Declare the file, put its bytes where the server says; the upload's id."""
    size = path.stat().st_size
    declared = client.declare_upload(path.name, content_type(path), size)
    with _bar(err, size) as progress, path.open("rb") as source:
        task = progress.add_task(path.name, total=size) if progress else None
        client.upload(declared, _chunks(source, progress, task))
    return declared["id"]


def saved_name(directory: Path, filename: str) -> Path:
    """A path in `directory` for `filename` that climbs nowhere and overwrites nothing."""
    name = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]+', "_", Path(filename).name).strip(" .")
    name = name or "download"
    candidate = directory / name
    stem, suffix = Path(name).stem, Path(name).suffix
    counter = 1
    while candidate.exists():
        candidate = directory / f"{stem} ({counter}){suffix}"
        counter += 1
    return candidate


def download(client: api.Client, attachment: api.Attachment, directory: Path, err: IO[str]) -> Path:
    """Stream the attachment into a new file in `directory`."""
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory")
    target = saved_name(directory, attachment["filename"])
    partial = target.with_name(target.name + ".part")
    try:
        with (
            client.download(attachment["url"]) as response,
            _bar(err, attachment["size"]) as progress,
            partial.open("wb") as out,
        ):
            task = progress.add_task(target.name, total=attachment["size"]) if progress else None
            for chunk in response.iter_bytes(CHUNK_BYTES):
                out.write(chunk)
                if progress is not None and task is not None:
                    progress.advance(task, len(chunk))
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target
