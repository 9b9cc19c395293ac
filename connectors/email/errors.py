class SendError(Exception):
    """A message could not be sent."""


class TemporarySendError(SendError):
    """Try again later: the server said 4xx, timed out or dropped the connection."""


class PermanentSendError(SendError):
    """Do not retry: the server refused the message or the address (5xx)."""
