"""Feed a captured AMI session through the splitter and transition(), as the hub would."""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.asterisk.events import AmiEvent
from connectors.asterisk.protocol import AmiFrameSplitter
from connectors.asterisk.traces import read_trace
from telephony.calls import CallState, transition
from telephony.model import CallEnded, CallRecord, Effect


@dataclass
class Run:
    state: CallState
    effects: list[Effect] = field(default_factory=list)
    frames: list[dict[str, str]] = field(default_factory=list)

    @property
    def records(self) -> list[CallRecord]:
        return [e.record for e in self.effects if isinstance(e, CallEnded)]

    def of(self, kind: type) -> list:
        return [e for e in self.effects if isinstance(e, kind)]


def drive(name: str, t0: float = 1_000_000.0) -> Run:
    splitter = AmiFrameSplitter()
    run = Run(CallState())
    for t, direction, data in read_trace(name):
        if direction != "<<<":
            continue
        for frame in splitter.feed(data):
            run.frames.append(frame)
            event = AmiEvent.from_frame(frame, t0 + t)
            if event is None:
                continue
            run.state, effects = transition(run.state, event)
            run.effects.extend(effects)
    return run
