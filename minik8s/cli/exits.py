"""How an ``mkctl`` command fails: :class:`CliError` (printed as kubectl's ``error: ...``, with
an exit status) and :class:`ExitSilently` (the message is out already, only the status is left).

Their own module, below :mod:`minik8s.cli.session` and :mod:`minik8s.cli.resources`, so that
both can raise them without importing each other; ``session`` re-exports them for the verbs.
"""

from __future__ import annotations


class CliError(Exception):
    """Raised for a failure the user caused or must act on; printed as ``error: <message>``
    (unless ``raw``), exit status ``code``."""

    def __init__(self, message: str, *, code: int = 1, raw: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.raw = raw


class ExitSilently(Exception):
    """Raised when the message was printed already and only the exit status remains."""

    def __init__(self, code: int = 1) -> None:
        super().__init__(code)
        self.code = code
