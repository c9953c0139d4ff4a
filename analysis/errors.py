"""The one base class for problems a user can fix, whose message is Japanese and shown as is.

Every module raises a subclass (bad input file, bad settings, a damaged saved run, a disk that
cannot be written), so the CLI, the dashboard and notebooks catch one type and print its message,
never a traceback.
"""

from __future__ import annotations


class UserError(ValueError):
    """A problem the user can fix; ``str(exc)`` is one or two Japanese sentences."""


class CorpusError(UserError):
    """Bad input (a file, a table, a setting), with a message in Japanese that can be shown as is."""
