from parley_operator.cli import main

main()
