"""The `parley` subcommands, one module per area; `parley_cli.app` puts them together.

A command parses its arguments, makes one call on `api.Client` (or a few, for a chat
named by title), and hands the result to `output.Output`.
"""
