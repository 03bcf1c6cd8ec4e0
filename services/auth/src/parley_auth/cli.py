"""`parley-auth serve` and `parley-auth migrate` (docs/api.md "Running it")."""

from __future__ import annotations

from parley_auth.app import create_app
from parley_auth.settings import AuthSettings
from parley_auth.storage import migrations
from parley_core import service

cli = service.service_cli("auth", AuthSettings, create_app, migrations_package=migrations.PACKAGE)
