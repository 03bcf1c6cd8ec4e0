"""`python -m parley_web`: the same as the `parley-web` command."""

from parley_web.main import main

main()
