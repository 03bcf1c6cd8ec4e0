"""`python -m parley_cli`, the same as the `parley` console script."""

from parley_cli import app

app.main()
