"""A Kubernetes API for operator tests: kmock's emulator, served from a thread of its own.

There is no cluster on these machines (docs/tooling.md); kmock emulates the API over
real HTTP. Two things are added here:

- `Emulator` stamps what kmock 0.8 leaves out and kopf relies on: an increasing
  `resourceVersion` (kopf's finalizer JSON-patches `test` it, and its watch resumes from
  it), `uid` (owner references), `generation` and `creationTimestamp`; and its watch
  skips events the client's list already covered, as the real API does.
- `Cluster` serves it on loopback from a thread with its own event loop, so tests stay
  synchronous and talk to it like `kubectl` would: over HTTP, through `Kubectl`.

Only the Kubernetes API is emulated; auth and chat are always the real services.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiohttp.web
import attrs
import httpx
import kmock
import yaml

T = TypeVar("T")

TENANTS = "parley.dev/v1alpha1/tenants"
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    _versions: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), init=False)
    _latest: int = attrs.field(default=0, init=False)
    _namespace_names: set[str] = attrs.field(factory=set, init=False)

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        if raw_request.path == "/api/v1/namespaces":
            # kmock 0.8 cannot parse this path (it reads "namespaces" as a namespace
            # prefix), so namespaces are served here: created, listed, and watched (a
            # stream that stays open; tests create namespaces before the operator starts).
            return await self._namespaces(raw_request)
        return await super().__call__(raw_request)

    async def _namespaces(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        if raw_request.method == "POST":
            body = await raw_request.json()
            self._namespace_names.add(body["metadata"]["name"])
            return aiohttp.web.json_response(body, status=201)
        if raw_request.query.get("watch") == "true":
            stream = aiohttp.web.StreamResponse()
            await stream.prepare(raw_request)
            await asyncio.Event().wait()  # until the client leaves or the server stops
        items = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            for name in sorted(self._namespace_names)
        ]
        return aiohttp.web.json_response(
            {
                "kind": "NamespaceList",
                "metadata": {"resourceVersion": str(self._latest)},
                "items": items,
            }
        )

    def _next_version(self) -> str:
        self._latest = next(self._versions)
        return str(self._latest)

    async def _handle(self, request: kmock.Request) -> Any:
        # Stamped before kmock applies the change under its lock; asyncio.Lock is FIFO,
        # so versions are applied in the order they were issued.
        if request.resource is not None:
            if request.action == kmock.action.CREATE and isinstance(request.data, dict):
                self._stamp_create(request.data)
            elif request.action == kmock.action.UPDATE and request.name is not None:
                self._stamp_update(request)
            elif request.action == kmock.action.DELETE and request.name is not None:
                await self._mark_deleted(request)
        return await super()._handle(request)

    def _stamp_create(self, body: dict[str, Any]) -> None:
        metadata = body.setdefault("metadata", {})
        metadata["resourceVersion"] = self._next_version()
        metadata.setdefault("uid", str(uuid.uuid4()))
        metadata.setdefault("generation", 1)
        metadata.setdefault("creationTimestamp", _now())

    def _stamp_update(self, request: kmock.Request) -> None:
        key = _object_key(request)
        current = self.objects[key].raw if key in self.objects else {}
        generation = current.get("metadata", {}).get("generation", 1)
        version = self._next_version()
        if isinstance(request.data, dict):
            touches_spec = "spec" in request.data and request.subresource is None
            metadata = request.data.setdefault("metadata", {})
            metadata["resourceVersion"] = version
            if touches_spec:
                metadata["generation"] = generation + 1
        elif isinstance(request.data, list):
            for op in request.data:
                stale = op.get("path") == "/metadata/resourceVersion" and op.get("value") != str(
                    current.get("metadata", {}).get("resourceVersion")
                )
                if op.get("op") == "test" and stale:
                    # What the API server answers a JSON patch whose test fails; kopf then
                    # re-reads the object and tries again.
                    raise kmock.KubernetesError(
                        status=422, reason="Invalid", message="the test operation failed"
                    )
            touches_spec = any(str(op.get("path", "")).startswith("/spec") for op in request.data)
            request.data.append(
                {"op": "add", "path": "/metadata/resourceVersion", "value": version}
            )
            if touches_spec and request.subresource is None:
                request.data.append(
                    {"op": "add", "path": "/metadata/generation", "value": generation + 1}
                )

    async def _mark_deleted(self, request: kmock.Request) -> None:
        # kmock sets deletionTimestamp on an object with finalizers without a new version,
        # which kopf would take for an event it has already seen.
        key = _object_key(request)
        async with self._lock:
            if key not in self.objects or self.objects[key].deleted:
                return
            metadata = self.objects[key].raw.get("metadata", {})
            if metadata.get("deletionTimestamp") or not metadata.get("finalizers"):
                return
            self.objects[key].patch(
                {"metadata": {"deletionTimestamp": _now(), "resourceVersion": self._next_version()}}
            )
            event = {"type": "MODIFIED", "object": self.objects[key].raw}
            await self._buses[key[0]].put(event)

    async def _serve_list(self, request: kmock.Request) -> Any:
        listing = await super()._serve_list(request)
        assert isinstance(listing, dict), listing
        listing["metadata"] = {"resourceVersion": str(self._latest)}
        return listing

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        yield b""  # send the headers: the stream is open even while nothing happens
        since = int(request.params.get("resourceVersion") or 0)
        assert request.resource is not None
        bus = self._buses[request.resource]
        async with self._lock:
            # Mark the bus before taking the snapshot, so nothing falls between the two.
            mark = await bus.mark()
            current = [
                obj.raw
                for (resource, namespace, name), obj in self.objects.items()
                if resource == request.resource
                and not obj.deleted
                and _selected(request, namespace, name)
            ]
        try:
            for raw in current:
                if _version(raw) > since:
                    yield {"type": "ADDED", "object": raw}
            async for event in bus.stream(since=mark):
                metadata = event.get("object", {}).get("metadata", {})
                if not _selected(request, metadata.get("namespace"), metadata.get("name")):
                    continue
                if event.get("type") != "DELETED" and _version(event["object"]) <= since:
                    continue
                yield event
        finally:
            await bus.unmark(mark)


def _selected(request: kmock.Request, namespace: str | None, name: str | None) -> bool:
    return (request.namespace is None or namespace == request.namespace) and (
        request.name is None or name == request.name
    )


def _version(raw: dict[str, Any]) -> int:
    return int(raw.get("metadata", {}).get("resourceVersion") or 0)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Cluster:
    """The emulator on 127.0.0.1 from a thread of its own, until closed."""

    def __init__(self) -> None:
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self.failures: list[Exception] = []
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)

    def __enter__(self) -> Cluster:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise TimeoutError("the Kubernetes emulator did not start within 30 s")
        if self._failure is not None:
            raise RuntimeError("the Kubernetes emulator failed to start") from self._failure
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)
        if exc_type is None and self.failures:
            raise AssertionError(f"the Kubernetes emulator failed requests: {self.failures!r}")

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to __enter__, or lost after shutdown
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with Emulator() as emulator, kmock.Server(emulator) as server:
            info = kmock.ResourceInfo
            emulator.resources[TENANTS] = info(
                kind="Tenant", namespaced=True, subresources={"status"}, verbs=VERBS
            )
            emulator.resources["v1/secrets"] = info(kind="Secret", namespaced=True, verbs=VERBS)
            # kopf does not start watching unless these are discoverable (docs/tooling.md).
            emulator.resources["v1/events"] = info(kind="Event", namespaced=True, verbs=VERBS)
            emulator.resources["v1/namespaces"] = info(
                kind="Namespace", namespaced=False, verbs=VERBS
            )
            emulator.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = info(
                kind="CustomResourceDefinition", namespaced=False, verbs=VERBS
            )
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()
            # Client errors (404, 409, a failed JSON-patch test) are answers; anything
            # else is the emulator failing a request, which the test should hear about.
            self.failures = [
                error
                for error in emulator.errors
                if not (isinstance(error, kmock.KubernetesError) and error.status < 500)
            ]

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig naming this emulator, the way an operator outside a pod logs in."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "kmock",
            "clusters": [{"name": "kmock", "cluster": {"server": self.url}}],
            "users": [{"name": "kmock", "user": {"token": "kmock"}}],
            "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path


class Kubectl:
    """What the tests do to the cluster, over HTTP like kubectl: no access to kmock's
    objects from the test thread."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def tenants(namespace: str, name: str = "") -> str:
        path = f"/apis/parley.dev/v1alpha1/namespaces/{namespace}/tenants"
        return f"{path}/{name}" if name else path

    @staticmethod
    def secrets(namespace: str, name: str = "") -> str:
        path = f"/api/v1/namespaces/{namespace}/secrets"
        return f"{path}/{name}" if name else path

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        created: dict[str, Any] = response.json()
        return created

    def get(self, path: str) -> dict[str, Any] | None:
        response = self.http.get(path)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        response = self.http.patch(
            path, json=patch, headers={"Content-Type": "application/merge-patch+json"}
        )
        assert response.status_code == 200, response.text
        patched: dict[str, Any] = response.json()
        return patched

    def delete(self, path: str) -> None:
        response = self.http.delete(path)
        assert response.status_code in (200, 202), response.text

    def namespace(self, name: str) -> None:
        self.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )

    def tenant(
        self, namespace: str, name: str, spec: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self.create(
            self.tenants(namespace),
            {
                "apiVersion": "parley.dev/v1alpha1",
                "kind": "Tenant",
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec or {},
            },
        )


def unused_url() -> str:
    """An address where nothing listens: a service that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _object_key(request: kmock.Request) -> tuple[kmock.resource, str | None, str]:
    """Where the emulator keeps the object a request names (only named requests get here)."""
    assert request.resource is not None, request
    assert request.name is not None, request
    return (request.resource, request.namespace, request.name)


def eventually(
    probe: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll `probe` until it returns without an AssertionError, or fail after `timeout`
    with its last assertion: tests wait on outcomes, never on fixed sleeps."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except AssertionError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {what or exc}") from exc
        time.sleep(interval)
