"""The one exception type that reaches users as a single line."""

from __future__ import annotations


class EmovecError(Exception):
    """An error caused by input or environment, reported to the user as one line (no traceback)."""
