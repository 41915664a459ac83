"""The ``emovec`` command line: one small module per command group, each only parsing arguments and calling the
library; :mod:`emovec.cli.app` assembles them."""

from emovec.cli.app import app, main

__all__ = ["app", "main"]
