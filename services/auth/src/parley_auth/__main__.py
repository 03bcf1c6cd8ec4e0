from parley_auth.cli import main

main()
