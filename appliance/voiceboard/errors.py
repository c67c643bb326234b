"""Exceptions raised into call greenlets by the voiceboard layer."""

from __future__ import annotations


class CallError(Exception):
    """Base of call-level failures seen by the code driving a channel."""


class Hangup(CallError):
    """The far end went away (on-hook, busy tone, polarity reversal, cable cut).

    Raised into the greenlet that owns the call so that its ``finally`` blocks
    release every resource.
    """

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class NoAnswer(CallError):
    """Nobody answered within the time allowed."""


class Busy(CallError):
    """The far end is busy (busy tone or backward busy signal)."""


class NoDialTone(CallError):
    """An analog trunk gave no dial tone when seized."""


class ChannelBusy(CallError):
    """The channel is already in a call."""


class Congestion(CallError):
    """The network could not route the call (backward congestion signal)."""


class CallFailed(CallError):
    """An outgoing call failed in set-up: unallocated number, protocol error, no backward signal."""


class NoFreeChannel(CallError):
    """Every channel that could carry the call is busy, blocked or in alarm."""
