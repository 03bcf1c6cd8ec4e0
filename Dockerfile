# syntax=docker/dockerfile:1
# Every Parley image, from the repository root. PACKAGE names the workspace member the image
# installs and runs; the target picks what a service and the operator do differently:
#   docker build --build-arg PACKAGE=parley-auth -t parley-auth .
#   docker build --build-arg PACKAGE=parley-chat -t parley-chat .
#   docker build --build-arg PACKAGE=parley-operator --target operator -t parley-operator .
# The services run `parley-<name> serve`, and `parley-<name> migrate` for the charts' hook
# Job; the operator runs `parley-operator run` for the parley-operator chart. Each image
# holds its own member and that member's dependencies only: `uv sync --package` installs
# no other member, so the operator image carries no Litestar.
# Every image runs as UID 10001 and writes nothing outside /tmp, so it works with a
# read-only root filesystem (`docker run --read-only --tmpfs /tmp`, or the charts' emptyDir
# on /tmp).

ARG PYTHON_VERSION=3.12
ARG UV_VERSION=0.13.8

# Stage 1: only the workspace's pyproject.toml files and uv.lock. uv needs every member's
# manifest to check the lock, and copying just these lets the dependency layer below stay
# cached while only source files change.
FROM python:${PYTHON_VERSION}-slim-bookworm AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name pyproject.toml ! -name uv.lock -delete \
 && find . -mindepth 1 -type d -empty -delete

# Stage 2: the virtualenv, from uv.lock exactly (--locked fails if it is stale).
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG UV_VERSION
ARG PACKAGE
RUN test -n "${PACKAGE}" \
 || { echo "build with --build-arg PACKAGE=parley-auth, parley-chat or parley-operator" >&2; exit 1; }
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY --from=manifests /src ./
# Third-party dependencies first (uv's --no-install-workspace layering)...
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --package "${PACKAGE}" --no-dev --no-install-workspace
COPY . .
# ...then the workspace packages themselves, installed as wheels (--no-editable) so the
# final image needs no source tree. Byte-code is compiled here: the root filesystem is
# read-only at run time.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --package "${PACKAGE}" --no-dev --no-editable

# Stage 3: what every image shares at run time: the same slim Python and the virtualenv,
# owned by root and read-only to the unprivileged user.
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG PACKAGE
# An exec-form ENTRYPOINT cannot expand a build argument, so the entry point is a launcher
# that execs the member's console script: it stays PID 1 and keeps its name in its usage.
RUN groupadd --system --gid 10001 parley \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin parley \
 && printf '#!/bin/sh\nexec %s "$@"\n' "${PACKAGE}" > /usr/local/bin/parley-entrypoint \
 && chmod 0755 /usr/local/bin/parley-entrypoint
COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["parley-entrypoint"]

# The operator (--target operator): kopf's liveness endpoint on 8080, and no port to serve.
FROM runtime AS operator
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["run", "--standalone", "--liveness=http://0.0.0.0:8080/healthz", "--all-namespaces"]

# The CLI (--target cli, PACKAGE=parley-cli): `parley` by default; the chart's delivery
# canary runs its `parley-canary` (its /metrics on 9100).
FROM runtime AS cli
EXPOSE 9100
CMD ["--help"]

# A service (the default target): HTTP on 8000, and its data directory (generated files in
# the embedded default) in /tmp.
FROM runtime AS service
ENV PARLEY_HOST=0.0.0.0 \
    PARLEY_PORT=8000 \
    PARLEY_DATA_DIR=/tmp/parley
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["serve"]
