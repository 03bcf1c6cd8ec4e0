"""The Alembic environment of every service's history; `parley_core.migrations.upgrade`
names the history in the Alembic config."""

from parley_core import migrations

migrations.run()
