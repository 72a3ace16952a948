"""Exception types shared across StreamFace.

Every error a user can cause is a `StreamFaceError` with a one-line, human message; the
command line turns it into exit code 2 and that line on stderr.
"""


class StreamFaceError(Exception):
    """Base class for errors with a clear, user-facing one-line reason."""


class BadAudioError(StreamFaceError):
    """Audio that cannot be read or used: unreadable file, NaN samples, absurd rate."""


class NoSpeechError(StreamFaceError):
    """The audio holds no detectable speech."""


class EngineUnavailableError(StreamFaceError):
    """A generator engine cannot load here; the message carries the install hint."""


class ConsentRequiredError(StreamFaceError):
    """Audio arrived for a session whose speaker has not consented."""
