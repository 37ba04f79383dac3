"""The one exception type the CLI turns into a clear message instead of a traceback.

Every error a user can cause (a wrong root, a corrupt frame, a foreign HDF5 file, a missing
dependency) is raised as :class:`MertoolError` (or a subclass) with a message naming the file
and sample involved and, where there is one, a ``hint`` saying what to do.
"""

from __future__ import annotations


class MertoolError(Exception):
    """A user-facing error: ``message`` says what went wrong, ``hint`` what to do about it."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class DatasetError(MertoolError):
    """A dataset root or annotation file that cannot be read."""


class StoreError(MertoolError):
    """An HDF5 sample file that is missing, foreign, truncated or of another format version."""


class EnvironmentProblem(MertoolError):
    """A missing or broken dependency; the hint is the exact repair command."""


class SampleError(MertoolError):
    """One sample (clip) could not be processed: a corrupt frame, no face, onset == apex, ...

    Stages catch it per sample, record ``reason`` in the output and go on or stop per ``--on-error``.
    """

    def __init__(self, sample_id: str, reason: str, hint: str | None = None):
        super().__init__(f"{sample_id}: {reason}", hint)
        self.sample_id = sample_id
        self.reason = reason
