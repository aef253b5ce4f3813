from topchef.cli import main

main()
