"""The one exception type that reaches users as a single line."""

from __future__ import annotations


class EmovecError(Exception):
    """An error caused by input or environment, reported to the user as one line (no traceback)."""


class SettingError(EmovecError):
    """A bad value of one named setting; the command line reports it under its flag (``--skip-tokens``)."""

    def __init__(self, setting: str, reason: str, flag: str | None = None):
        self.setting, self.reason = setting, reason
        self.flag = flag or "--" + setting.replace("_", "-")
        super().__init__(f"invalid setting {setting}: {reason}")
