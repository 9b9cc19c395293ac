"""A rule's own SLA (``sla = { accept_within_hours, max_idle_days }`` in the rule set) for the inquiries it
routed: the SLA scheduler asks here which inquiries run on a threshold of their own. Nothing is read when no
rule overrides the agency's SLA, so an agency without such rules pays nothing for it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import RoutingDecision
from routing.rules import RuleSet
from routing.sla import SlaConfig


async def rule_configs(s: AsyncSession, rules: RuleSet, base: SlaConfig, ids: Sequence[int]) -> dict[int, SlaConfig]:
    """Inquiry id → its SLA, for the inquiries whose last routing decision was made by a rule with overrides."""
    overridden = {r.id: dict(r.sla) for r in rules.rules if r.sla}
    if not overridden or not ids:
        return {}
    last: dict[int, str | None] = {}
    rows = await s.execute(select(RoutingDecision.inquiry_id, RoutingDecision.explanation)
                           .where(RoutingDecision.inquiry_id.in_(list(ids))).order_by(RoutingDecision.id))
    for inquiry_id, explanation in rows.all():
        rule = (explanation or {}).get("rule") if isinstance(explanation, dict) else None
        last[inquiry_id] = rule.get("id") if isinstance(rule, dict) else None
    configs = {key: base.model_copy(update=values) for key, values in overridden.items()}
    return {i: configs[key] for i, key in last.items() if key in configs}
