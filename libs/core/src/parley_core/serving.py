"""How every Parley process runs its app under uvicorn: one process a pod, uvicorn's logs
through ours (configure `parley_core.logging` first), client addresses from trusted
proxies only, and a bounded graceful shutdown.

Client addresses: uvicorn's ProxyHeadersMiddleware (0.54) already does what the login
limiter needs when given addresses or CIDRs: it reads X-Forwarded-For only from a trusted
peer and takes the rightmost entry that is not itself a trusted proxy, so a client cannot
choose its address by prepending entries. Only `*` makes it take the leftmost entry, which
the client writes; `CoreSettings.forwarded_allow_ips` refuses `*` for that reason.

Stream sockets get a `FrameWriter` (below): a frame fanned out to many sockets is framed
once and written to each transport as the same bytes."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from parley_core.settings import CoreSettings

GRACEFUL_SHUTDOWN_SECONDS = 10
WS_PING_SECONDS = 20.0
WS_MAX_FRAME_BYTES = 1024 * 1024


FRAME_WRITER = "parley.frame_writer"
"""The ASGI scope extension under which a WebSocket's `FrameWriter` is found."""


def text_frame(payload: bytes) -> bytes:
    """`payload` (UTF-8 text) as one unmasked, uncompressed WebSocket text frame (RFC 6455
    5.2): what a server writes, the same bytes for every socket."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65_536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class FrameWriter:
    """Writes ready-made frames (`text_frame`) straight to one socket's transport.

    A frame that fans out to a thousand sockets is then framed once and written a thousand
    times, with no ASGI message, no decoding or encoding and no await per socket. It
    refuses (False) whenever the ASGI path must be taken instead: before the handshake,
    after a close, with an extension negotiated (per-message deflate changes the bytes),
    and while the transport's buffer is above its high-water mark, so a slow reader still
    holds the writer back (and ends up closed by the application's own bound)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def write(self, frame: bytes) -> bool:
        protocol = self._protocol
        if (
            protocol.close_sent
            or protocol.disconnected
            or not protocol.handshake_complete
            or not protocol.writable.is_set()
            or protocol.conn.extensions
        ):
            return False
        protocol.transport.write(frame)
        return True


class FrameWritingProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (the websockets sans-I/O one, uvicorn's default), which
    also hands the application a `FrameWriter` in the scope's extensions. Frames written
    through it are whole frames on the same transport the protocol writes its own frames
    (pings, pongs, close) to, so the two never interleave inside a frame."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][FRAME_WRITER] = FrameWriter(self)


def config(app: Any, settings: CoreSettings) -> uvicorn.Config:
    """How every process serves its app; tests serve apps with the same configuration."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # docs/stream.md: protocol pings find dead peers; on shutdown uvicorn closes each
        # socket with 1012. The largest client frame is a resume with 10 000 cursors.
        ws_ping_interval=WS_PING_SECONDS,
        ws_ping_timeout=WS_PING_SECONDS,
        ws_max_size=WS_MAX_FRAME_BYTES,
        ws=FrameWritingProtocol,
        # Stream frames are small JSON, framed once and written to every socket as the same
        # bytes (FrameWriter); compressing per socket would cost more than it saves.
        ws_per_message_deflate=False,
    )


WORKER_SOCKET_ENV = "PARLEY_WORKER_SOCKET_FD"
"""Set by `supervise` for its workers: the listening socket they inherit (not a setting)."""
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

logger = logging.getLogger(__name__)


def is_worker() -> bool:
    return WORKER_SOCKET_ENV in os.environ


def run(app: Any, settings: CoreSettings) -> None:
    server = uvicorn.Server(config(app, settings))
    inherited = os.environ.get(WORKER_SOCKET_ENV)
    if inherited is None:
        server.run()
        return
    with socket.socket(fileno=int(inherited)) as listening:
        server.run(sockets=[listening])


def _die_with_parent() -> None:
    """In a worker, before it runs: SIGTERM it when the supervisor dies, even by SIGKILL, so
    no worker is left holding the port (Linux's PR_SET_PDEATHSIG; elsewhere nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def supervise(settings: CoreSettings) -> None:
    """`PARLEY_WORKERS` > 1: bind the port once, and run that many copies of this very
    command as workers that accept on it, each its own interpreter and event loop.

    Fresh interpreters rather than forks: prometheus-client picks its multiprocess mode
    when it is imported, so each worker must start with `PROMETHEUS_MULTIPROC_DIR` set;
    the folder is emptied before the workers start, a worker that dies has its live
    gauges removed and is started again, and SIGTERM is passed on to every worker (each
    closes its sockets with 1012, as a single process does)."""
    listening = config(None, settings).bind_socket()
    listening.set_inheritable(True)
    own_dir = MULTIPROC_ENV not in os.environ
    metrics_dir = Path(os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="parley-metrics-"))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    env = {
        **os.environ,
        WORKER_SOCKET_ENV: str(listening.fileno()),
        MULTIPROC_ENV: str(metrics_dir),
        "PARLEY_WORKERS": "1",
    }
    stopping = False

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            sys.orig_argv, env=env, pass_fds=[listening.fileno()], preexec_fn=_die_with_parent
        )

    workers = [start() for _ in range(settings.workers)]

    def stop(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    from prometheus_client import multiprocess

    try:
        while not stopping or any(worker.poll() is None for worker in workers):
            time.sleep(0.2)
            for index, worker in enumerate(workers):
                if worker.poll() is None or stopping:
                    continue
                logger.warning("worker exited; starting another", extra={"exit": worker.returncode})
                multiprocess.mark_process_dead(worker.pid, str(metrics_dir))  # type: ignore[no-untyped-call]
                workers[index] = start()
    finally:
        listening.close()
        if own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
