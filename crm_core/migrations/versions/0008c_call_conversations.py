"""calls are conversations: the DID → advertising source table; repeated open call inquiries folded

Before this revision every inbound call opened an inquiry of its own, so a client who called five times had
five open inquiries. From now on a call joins the client's open inquiry (``telephony/conversations.py``);
this revision folds what the old rule left behind: the open call inquiries of one client and one department
(none counts as one), each opened within ``WINDOW_DAYS`` of the conversation's last activity, go into the
oldest one. Their messages, calls, tasks and timeline entries move to it; an agent who held a folded one
keeps the conversation when the oldest had no owner. A folded inquiry that something else still names (a
deal, a property link, a quality check, a script run, a moderation decision, any table added later) is closed
as merged (status ``archived``, history «Объединено с обращением №…»); otherwise it is deleted with its own
history and routing records. The downgrade drops the table; the folding is not undone.

Revision ID: 0008c
Revises: 0007
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0008c"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC_DT = crm_core.models.base.UTCDateTime(timezone=True)
WINDOW_DAYS = 30  # the default of [asterisk] join_window_days
OPEN = ("new", "offered", "in_work")
MOVED = ("messages", "calls", "tasks", "timeline")
OWN = ("inquiry_events", "routing_inquiries", "routing_offers", "routing_sla", "routing_decisions")
"""The inquiry's own history and routing state: deleted with a folded inquiry."""

inquiries = sa.table(
    "inquiries", sa.column("id", sa.Integer), sa.column("client_id", sa.Integer),
    sa.column("department_id", sa.Integer), sa.column("channel", sa.String), sa.column("status", sa.String),
    sa.column("owner_id", sa.Integer), sa.column("pool", sa.String), sa.column("property_id", sa.Integer),
    sa.column("created_at", UTC_DT), sa.column("last_action_at", UTC_DT), sa.column("accepted_at", UTC_DT),
    sa.column("closed_at", UTC_DT), sa.column("updated_at", UTC_DT), sa.column("pool_entered_at", UTC_DT),
)
events = sa.table(
    "inquiry_events", sa.column("inquiry_id", sa.Integer), sa.column("at", UTC_DT), sa.column("kind", sa.String),
    sa.column("note", sa.Text), sa.column("data", sa.JSON),
)


def upgrade() -> None:
    op.create_table(
        "did_sources",
        sa.Column("did", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC_DT, nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_did_sources_updated_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("did", name=op.f("pk_did_sources")),
    )
    fold_call_inquiries(op.get_bind())


def downgrade() -> None:
    op.drop_table("did_sources")


def fold_call_inquiries(conn: sa.Connection, window: timedelta = timedelta(days=WINDOW_DAYS)) -> dict[int, int]:
    """Fold the repeated open call inquiries; returns folded id → the id it went into."""
    rows = conn.execute(
        sa.select(inquiries.c.id, inquiries.c.client_id, inquiries.c.department_id, inquiries.c.created_at,
                  inquiries.c.last_action_at)
        .where(inquiries.c.channel == "call", inquiries.c.status.in_(OPEN))
        .order_by(inquiries.c.client_id, inquiries.c.department_id, inquiries.c.created_at, inquiries.c.id)
    ).all()
    into: dict[int, int] = {}
    group, target, seen = None, None, None
    for r in rows:
        active = r.last_action_at or r.created_at
        if (r.client_id, r.department_id) == group and r.created_at - seen <= window:
            into[r.id] = target
            seen = max(seen, active)
        else:
            group, target, seen = (r.client_id, r.department_id), r.id, active
    if not into:
        return into
    present = set(sa.inspect(conn).get_table_names())
    refs = _references(conn, present)
    now = datetime.now(UTC)
    folded: dict[int, list[int]] = {}
    for src, dst in into.items():
        folded.setdefault(dst, []).append(src)
    for dst, sources in folded.items():
        _fold(conn, dst, sources, refs, present, now)
    return into


def _by_inquiry(name: str) -> sa.TableClause:
    return sa.table(name, sa.column("inquiry_id", sa.Integer))


def _references(conn: sa.Connection, present: set[str]) -> list[tuple[str, str]]:
    """Every (table, column) naming an inquiry, besides the moved ones and the inquiry's own."""
    found = []
    inspector = sa.inspect(conn)
    for table in sorted(present):
        if table in MOVED or table in OWN or table == "inquiries":
            continue
        for fk in inspector.get_foreign_keys(table):
            if fk.get("referred_table") == "inquiries" and len(fk["constrained_columns"]) == 1:
                found.append((table, fk["constrained_columns"][0]))
    return found


def _fold(conn: sa.Connection, dst: int, sources: list[int], refs: list[tuple[str, str]], present: set[str],
          now: datetime) -> None:
    for table in MOVED:
        if table in present:
            t = _by_inquiry(table)
            conn.execute(t.update().where(t.c.inquiry_id.in_(sources)).values(inquiry_id=dst))
    target = conn.execute(sa.select(inquiries).where(inquiries.c.id == dst)).one()
    rest = conn.execute(sa.select(inquiries).where(inquiries.c.id.in_(sources))
                        .order_by(inquiries.c.created_at.desc(), inquiries.c.id.desc())).all()
    change: dict[str, object] = {
        "last_action_at": max(r.last_action_at or r.created_at for r in [target, *rest]), "updated_at": now}
    held = next((r for r in rest if r.owner_id is not None), None)
    if target.owner_id is None and held is not None:  # the agent who spoke with the client keeps the conversation
        change.update(owner_id=held.owner_id, status="in_work", accepted_at=held.accepted_at or now, pool="none",
                      pool_entered_at=None)
        if "routing_offers" in present:
            conn.execute(sa.text("UPDATE routing_offers SET state = 'withdrawn', closed_at = :now "
                                 "WHERE inquiry_id = :dst AND state = 'open'"), {"now": now, "dst": dst})
    if target.property_id is None:
        change["property_id"] = next((r.property_id for r in rest if r.property_id is not None), None)
    conn.execute(inquiries.update().where(inquiries.c.id == dst).values(**change))
    conn.execute(events.insert().values(
        inquiry_id=dst, at=now, kind="merged", data={"merged": sorted(sources)},
        note="Объединены повторные обращения по звонкам клиента: " + ", ".join(f"№{i}" for i in sorted(sources))
             + " — их звонки, сообщения и задачи теперь здесь"))
    for src in sources:
        named = any(conn.execute(sa.select(sa.literal(1)).select_from(sa.table(t, sa.column(c)))
                                 .where(sa.column(c) == src).limit(1)).first() for t, c in refs)
        if named:
            conn.execute(inquiries.update().where(inquiries.c.id == src).values(
                status="archived", closed_at=now, updated_at=now, pool="none"))
            conn.execute(events.insert().values(inquiry_id=src, at=now, kind="merged", data={"into": dst},
                                                note=f"Объединено с обращением №{dst}"))
            continue
        if "routing_offer_agents" in present and "routing_offers" in present:
            conn.execute(sa.text("DELETE FROM routing_offer_agents WHERE offer_id IN "
                                 "(SELECT id FROM routing_offers WHERE inquiry_id = :src)"), {"src": src})
        for table in OWN:
            if table in present:
                t = _by_inquiry(table)
                conn.execute(t.delete().where(t.c.inquiry_id == src))
        conn.execute(inquiries.delete().where(inquiries.c.id == src))
