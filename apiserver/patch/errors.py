"""The one exception the patch appliers raise.

::

    ValueError
     └── PatchError   the patch cannot be applied: malformed (not a list of operations, a bad
                      JSON pointer, an unknown ``$patch`` directive, a list element without its
                      merge key) or not applicable to this document (a ``test`` that failed,
                      a path that does not exist)

The apiserver turns it into a ``Status``: 422 Unprocessable Entity when the patch does not apply
to the object, 400 Bad Request when the body is not a patch at all. The message is meant for the
person who sent the patch and names the path or directive at fault.
"""

from __future__ import annotations

__all__ = ["PatchError"]


class PatchError(ValueError):
    """Raised when a JSON patch, JSON merge patch or strategic merge patch cannot be applied."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
