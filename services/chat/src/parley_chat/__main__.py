from parley_chat.cli import cli

cli()
