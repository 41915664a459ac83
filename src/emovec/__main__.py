"""``python -m emovec`` runs the command line."""

from emovec.cli.app import main

main()
