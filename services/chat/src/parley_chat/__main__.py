from parley_chat.cli import main

main()
