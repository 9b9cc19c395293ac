"""Routing: who gets each inquiry and when it escalates — pure decision logic, no I/O.

The hub wires: ``compile_rules``/``load_rules_toml`` → ``RuleSet``; an ``AgentDirectory`` kept up to date
from agents' statuses and loads; ``decide(...) -> Decision``; a persisted ``RoutingState``; ``WorkCalendar``
and ``sla.next_step`` for the escalation chain.
"""

from routing.agents import AgentDirectory
from routing.calendar import WorkCalendar, WorkingHours
from routing.decide import decide
from routing.duty import DutySchedule
from routing.model import AgentSnapshot, Decision, InquiryFacts
from routing.rules import RuleSet, RuleSetError, compile_rules, load_rules_toml
from routing.sla import InquiryClock, SlaConfig, SlaStep, next_step
from routing.strategies import RoutingState

__all__ = [
    "AgentDirectory", "AgentSnapshot", "Decision", "DutySchedule", "InquiryClock", "InquiryFacts", "RoutingState",
    "RuleSet", "RuleSetError", "SlaConfig", "SlaStep", "WorkCalendar", "WorkingHours", "compile_rules", "decide",
    "load_rules_toml", "next_step",
]
