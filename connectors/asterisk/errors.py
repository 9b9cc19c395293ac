"""What can go wrong between the hub and Asterisk, each with a message a person can act on."""

from __future__ import annotations


class AmiError(Exception):
    """Base of the AMI connector's errors."""


class AmiNotConnected(AmiError):
    def __init__(self, state: str) -> None:
        super().__init__(f"the PBX link is not up (state: {state})")
        self.state = state


class AmiLinkLost(AmiError):
    """The link dropped before the answer came. The action is NOT re-sent: it may or may not have run."""

    def __init__(self, action: str) -> None:
        super().__init__(f"the PBX link dropped before it answered {action}; it was not sent again")
        self.action = action


class AmiActionTimeout(AmiError):
    def __init__(self, action: str, timeout_s: float) -> None:
        super().__init__(f"the PBX did not answer {action} within {timeout_s:g} s")
        self.action = action


class AmiActionRefused(AmiError):
    """Asterisk answered ``Response: Error``."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"the PBX refused {action}: {message or 'no reason given'}")
        self.action = action
        self.message = message


class AmiAuthFailed(AmiError):
    def __init__(self, message: str) -> None:
        super().__init__(f"the PBX refused the login: {message}")


class UnsafeHeaderValue(AmiError, ValueError):
    """A value with a line break would let text inject extra AMI headers or actions."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the value of {key} contains a line break and was not sent")
        self.key = key
