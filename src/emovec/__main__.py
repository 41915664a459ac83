"""``python -m emovec`` runs the command line."""

from .cli import main

main()
