from parley_auth.cli import cli

cli()
