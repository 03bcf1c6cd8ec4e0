"""Named profiles and their credentials, kept in `$XDG_CONFIG_HOME/parley/credentials.json`.

The file holds tokens, so it is created with mode 0600 from its first byte (written to a
private temporary file, then renamed over the old one) in a 0700 directory. Every change
happens under an exclusive lock on a sibling lock file, because refresh tokens are
single-use (docs/api.md "Auth API"): two `parley` processes refreshing the same token at
once would look like theft to the server and end the login. Under the lock, a process first
re-reads the file and uses a pair another process already rotated.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from parley_cli import api
from parley_cli.errors import AuthError, CliError

DEFAULT_PROFILE = "default"
DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_TENANT = "default"
FILE_NAME = "credentials.json"


@dataclass
class Profile:
    """One login: where, as whom, and the current token pair."""

    server: str = DEFAULT_SERVER
    tenant: str = DEFAULT_TENANT
    username: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    admin_token: str | None = None
    """For `parley admin`; saved by `parley admin login`."""

    @property
    def logged_in(self) -> bool:
        # An access token alone (handed over by a tenant's backend, `login --token-stdin`)
        # is a session until it expires; only a pair can be renewed.
        return bool(self.access_token)

    def without_session(self) -> Profile:
        return dataclasses.replace(self, access_token=None, refresh_token=None)

    @classmethod
    def from_json(cls, value: object) -> Profile:
        if not isinstance(value, dict):
            raise ValueError("a profile must be a JSON object")

        # Unknown keys (written by a newer parley) are left out rather than refused.
        def text(key: str) -> str | None:
            item = value.get(key)
            if item is not None and not isinstance(item, str):
                raise ValueError(f"profile field {key!r} must be a string")
            return item

        return cls(
            server=text("server") or DEFAULT_SERVER,
            tenant=text("tenant") or DEFAULT_TENANT,
            username=text("username"),
            access_token=text("access_token"),
            refresh_token=text("refresh_token"),
            admin_token=text("admin_token"),
        )


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    # XDG Base Directory spec: an unset, empty or relative XDG_CONFIG_HOME means ~/.config.
    base = environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "parley"


class Store:
    """The credentials file: every profile, read and written as a whole under a lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self._lock_path = directory / f".{FILE_NAME}.lock"

    def load(self) -> dict[str, Profile]:
        """A snapshot without the lock: enough to read, never to write back."""
        return self._read()

    def get(self, name: str) -> Profile | None:
        return self._read().get(name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict[str, Profile]]:
        """Every profile, locked against other `parley` processes; changes made to the
        mapping are written when the block ends without an exception.

        Not re-entrant: flock(2) locks belong to an open file, so a nested transaction in
        the same process would wait for itself.
        """
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            profiles = self._read()
            before = copy.deepcopy(profiles)
            yield profiles
            if profiles != before:
                self._write(profiles)
        finally:
            os.close(lock)  # closing the descriptor releases the lock

    def _read(self) -> dict[str, Profile]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CliError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            document = json.loads(text)
            raw = document.get("profiles", {}) if isinstance(document, dict) else None
            if not isinstance(raw, dict):
                raise ValueError("expected {'profiles': {...}}")
            return {str(name): Profile.from_json(value) for name, value in raw.items()}
        except ValueError as exc:
            raise CliError(f"{self.path} is damaged ({exc}); fix it or remove it") from None

    def _write(self, profiles: Mapping[str, Profile]) -> None:
        document = {"profiles": {name: dataclasses.asdict(p) for name, p in profiles.items()}}
        data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
        temporary = self.directory / f".{FILE_NAME}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()  # left by a crashed run with our pid
        # O_EXCL and mode 0600 at creation: the tokens are never readable by others, not
        # even between open() and a chmod().
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise


class ProfileCredentials:
    """`api.Credentials` backed by one profile of a `Store`."""

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self._name = name

    def access_token(self) -> str:
        profile = self._store.get(self._name)
        if profile is None or not profile.access_token:
            raise not_logged_in(self._name)
        return profile.access_token

    def rotate(self, stale: str, exchange: Callable[[str], api.TokenPair]) -> str:
        failure: AuthError | None = None
        with self._store.transaction() as profiles:
            profile = profiles.get(self._name)
            if profile is None or not profile.access_token or not profile.refresh_token:
                raise not_logged_in(self._name)
            if profile.access_token != stale:
                return profile.access_token  # another parley process rotated the pair
            try:
                pair = exchange(profile.refresh_token)
            except AuthError as exc:
                # The login is over (expired, revoked, or used elsewhere): forget its
                # tokens, so the next command says so instead of trying again.
                profiles[self._name] = profile.without_session()
                failure = exc
            else:
                profiles[self._name] = dataclasses.replace(
                    profile, access_token=pair["access_token"], refresh_token=pair["refresh_token"]
                )
                return pair["access_token"]
        assert failure is not None
        raise failure


def not_logged_in(profile: str) -> AuthError:
    flag = "" if profile == DEFAULT_PROFILE else f" --profile {profile}"
    return AuthError(f"not logged in; run 'parley{flag} login'")
