"""Errors a user can act on.

Every problem caused by user input (a missing path, an unknown model, an empty class folder, absent weights)
raises :class:`FerBenchError` with a one-line message that names the thing and the fix. The CLI prints the
message and exits non-zero; it never shows a traceback for these.
"""


class FerBenchError(Exception):
    """A user-facing error: ``str(err)`` is a single line naming the problem and the fix."""


class ImageReadError(FerBenchError):
    """An image file could not be decoded (corrupt, truncated, or not an image)."""
