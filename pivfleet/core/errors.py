"""Errors the user can act on. Each message names the file or setting and the fix."""


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


class PoisonMessageError(PivfleetError):
    """A queue message that can never be processed (malformed, wrong kind): dead-letter it."""
