"""Errors the user can act on. Each message names the file or setting and the fix.

`is_permanent` is the one place that says which errors another attempt cannot cure.
"""

import errno


class PivfleetError(Exception):
    """Base class: a problem with what the user gave, reported without a traceback."""


class ImageReadError(PivfleetError):
    """A frame could not be read as an image."""


class InputFolderError(PivfleetError):
    """The input folder does not exist, is a file, or cannot be read."""


class PairingError(PivfleetError):
    """The input folder does not pair into frames A and B."""


class PairError(PivfleetError):
    """A pair cannot be processed (sizes differ, too small for the first window)."""


class SettingsError(PivfleetError):
    """A PIV or run setting is invalid."""


class OutputError(PivfleetError):
    """The output folder cannot be used."""


class RunExistsError(PivfleetError):
    """A run id is taken by an earlier submission; replacing it must be asked for."""


class UnknownRunError(PivfleetError):
    """No submission under this run id."""


class AlgorithmError(PivfleetError):
    """An algorithm is unknown or failed on a tile."""


class PermanentJobError(PivfleetError):
    """A job that will fail again on retry: dead-letter it and report the tile failed."""


class RetryableJobError(Exception):
    """A job that failed for a reason another attempt may not meet (a wrapped executable's time
    limit, a crash, an exit code its spec calls retryable): not a `PivfleetError`, so the
    consume loop retries it and, after the last attempt, reports the tile failed with it."""


class PoisonMessageError(PivfleetError):
    """A queue message that can never be processed (malformed, wrong kind): dead-letter it."""


PERMANENT_ERRNOS = frozenset(
    {errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.ELOOP, errno.EACCES, errno.EPERM,
     errno.EROFS}
)  # fmt: skip
"""File-system errors about the path itself: trying again reaches the same answer."""


def is_permanent(error: BaseException) -> bool:
    """True when a retry would fail the same way: what the user gave (a `PivfleetError`), or
    a path the file system refuses. Anything else (a network, a throttle, a full disk) may pass."""
    if isinstance(error, PivfleetError):
        return True
    return isinstance(error, OSError) and error.errno in PERMANENT_ERRNOS


def describe(error: BaseException) -> str:
    """The cause in one line: a `PivfleetError` is already written for the user."""
    return str(error) if isinstance(error, PivfleetError) else f"{type(error).__name__}: {error}"
