"""The service kit: what every Parley service is made of beside its own routes and rules.

A service's composition root (`create_app(settings)`) opens its `Backends` here, builds
what is its own, and hands both to `service_app`, which adds the parts every service
shares: the probes, `/metrics`, the admin-guarded `/internal` routes and their OpenAPI
document, the caller's identity, the error shape, the request id, the request log and
metrics, tracing, and closing the backends on shutdown. `service_cli` is its `serve` and
`migrate` commands (docs/api.md "Running it").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import typer
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins import PluginProtocol
from litestar.types import ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_core import (
    db,
    health,
    metrics,
    migrations,
    openapi,
    ratelimit,
    requestid,
    rpc,
    serving,
    telemetry,
    tokens,
    web,
)
from parley_core import logging as parley_logging
from parley_core.settings import CoreSettings

Settings = TypeVar("Settings", bound=CoreSettings)
Settings_contra = TypeVar("Settings_contra", bound=CoreSettings, contravariant=True)

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]

logger = logging.getLogger(__name__)


@asynccontextmanager
async def in_background(work: Coroutine[Any, Any, None], *, name: str) -> AsyncIterator[None]:
    """Run `work` as a task while the block runs; then cancel it and wait for it to end."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def every(seconds: float, job: Callable[[], Awaitable[object]], *, name: str) -> Lifespan:
    """A lifespan that runs `job` now and then every `seconds` while the app serves (a
    chore every replica runs, such as a purge). A round that fails is logged by its error's
    type alone (a database error's text can carry the row it was writing) and the next
    round runs as planned: an outage only postpones the chore."""

    async def rounds() -> None:
        while True:
            try:
                await job()
            except Exception as exc:
                logger.warning(
                    "background job failed", extra={"job": name, "error.type": type(exc).__name__}
                )
            await asyncio.sleep(seconds)

    def lifespan(_: Litestar) -> AbstractAsyncContextManager[None]:
        return in_background(rounds(), name=name)

    return lifespan


@dataclass(frozen=True)
class Backends:
    """A service's database engine and, when `PARLEY_REDIS_URL` is set, its Redis client."""

    name: str
    engine: AsyncEngine
    redis: ratelimit.RedisClient | None
    key_prefix: str
    """Start of every Redis key the service writes: `PARLEY_REDIS_PREFIX` and its name."""


def backends(name: str, settings: CoreSettings, tracing: telemetry.Tracing | None) -> Backends:
    """Open the service's engine and Redis client, traced when `tracing` is on;
    `service_app` closes them when the app shuts down."""
    engine = db.create_engine(
        settings.resolved_database_url(), pool_size=settings.database.pool_size
    )
    redis = (
        ratelimit.redis_client(settings.redis.url, cluster=settings.redis.cluster)
        if settings.redis.url
        else None
    )
    if tracing is not None:
        tracing.instrument_engine(engine)
        if redis is not None:
            tracing.instrument_redis(redis)
    return Backends(name, engine, redis, key_prefix=f"{settings.redis.prefix}{name}:")


def service_app(
    backends: Backends,
    settings: CoreSettings,
    *,
    tracing: telemetry.Tracing | None,
    verifier: tokens.Verifier,
    route_handlers: Sequence[ControllerRouterHandler],
    internal: Sequence[ControllerRouterHandler],
    dependencies: Mapping[str, Provide],
    state: Mapping[str, Any],
    max_body_bytes: int,
    plugins: Sequence[PluginProtocol] = (),
    lifespan: Sequence[Lifespan] = (),
    rpc_services: Sequence[rpc.Registration] = (),
) -> Litestar:
    """The service's Litestar app: its own routes, dependencies and lifespans, and the parts
    every service shares. `internal` routes answer only to `PARLEY_ADMIN_TOKEN`;
    `dependencies` may use `claims`, the verified caller. `rpc_services` are served over
    gRPC on `PARLEY_GRPC_PORT` while the app runs (its bound port in `app.state.grpc_port`),
    and kept in `app.state.rpc_services` for a process that serves several apps' on one
    port (the embedded default)."""
    name = backends.name
    service = f"parley-{name}"

    probes: dict[str, health.Probe] = {"database": lambda: db.ping(backends.engine)}
    if backends.redis is not None:
        probes["redis"] = backends.redis.ping

    async def ready() -> bool:
        return not await health.failing(probes, service=name)

    rpc_services = [
        dataclasses.replace(
            registration,
            verifier=registration.verifier or verifier,
            ready=registration.ready or ready,
        )
        for registration in rpc_services
    ]
    unwatch_pool = metrics.watch_pool(name, backends.engine)

    @asynccontextmanager
    async def close_backends(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            unwatch_pool()
            if backends.redis is not None:
                await backends.redis.aclose()
            await backends.engine.dispose()

    @asynccontextmanager
    async def grpc_server(app: Litestar) -> AsyncIterator[None]:
        if settings.grpc_port is None or not rpc_services:
            yield
            return
        tracer = tracing.tracer(f"parley_{name}") if tracing is not None else None
        async with rpc.serving(
            rpc_services,
            host=settings.host,
            port=settings.grpc_port,
            tracer=tracer,
        ) as served:
            app.state.grpc_port = served.port
            yield

    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    admin = web.admin_guard(admin_token)
    guarded = Router(path="/", route_handlers=internal, guards=[admin])
    return Litestar(
        route_handlers=[
            *route_handlers,
            guarded,
            telemetry.MetricsController,
            *health.handlers(probes, service=name),
        ],
        dependencies={"claims": Provide(web.identity_provider(verifier)), **dependencies},
        plugins=[*plugins, *([tracing.plugin()] if tracing is not None else [])],
        exception_handlers=web.exception_handlers(),
        middleware=[telemetry.http_metrics(service), telemetry.RequestLog(service)],
        before_send=[requestid.add_header],
        cors_config=web.cors_config(settings.cors_origins),
        openapi_config=openapi.config(name, admin),
        request_max_body_size=max_body_bytes,
        request_class=web.JsonRequest,
        logging_config=None,
        # Litestar leaves lifespans in reverse order: the backends close last, and the gRPC
        # server (ending its streams) first.
        lifespan=[close_backends, *lifespan, grpc_server],
        state=State({**state, "rpc_services": rpc_services}),
    )


class AppFactory(Protocol[Settings_contra]):
    def __call__(
        self, settings: Settings_contra, *, tracing: telemetry.Tracing | None = None
    ) -> Litestar: ...


def service_cli(
    name: str,
    settings: Callable[[], Settings],
    create_app: AppFactory[Settings],
    *,
    migrations_package: str,
) -> typer.Typer:
    """`parley-<name> serve` and `parley-<name> migrate`; `settings` reads the environment."""
    cli = typer.Typer(help=f"Parley's {name} service.", no_args_is_help=True, add_completion=False)

    @cli.command(help=f"Serve the {name} API on PARLEY_HOST:PARLEY_PORT (run `migrate` first).")
    def serve() -> None:
        values = settings()
        parley_logging.configure(values.log_level)
        if values.workers > 1 and not serving.is_worker():
            serving.supervise(values)
            return
        app = create_app(values, tracing=telemetry.from_env(f"parley-{name}"))
        serving.run(app, values)

    @cli.command(help=f"Apply the {name} service's migrations to PARLEY_DATABASE_URL and exit.")
    def migrate() -> None:
        values = settings()
        parley_logging.configure(values.log_level)
        migrations.upgrade(migrations_package, values.resolved_database_url())

    return cli
