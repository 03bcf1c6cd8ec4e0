from parley_embedded.main import main

main()
