"""``python -m mediumnet`` runs the command line."""

from mediumnet.cli import main

main()
