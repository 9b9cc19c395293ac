"""The speech capability's errors, in a module of their own: the hub's process raises and catches them
without importing the audio stack (NumPy and soxr load only in the worker processes that decode)."""


class AudioError(ValueError):
    """The recording cannot be transcribed; the message says why."""
