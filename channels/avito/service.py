"""Avito messenger events into the hub: a client's message under a listing into the intake (the listing's
property on the inquiry when a property carries the listing's number, ``Property.avito_item_id``, or the
agency named it in the settings' ``listings`` map, so routing judges the property's district, metro, price and
type, and a rule may give the lead to the property's agent first), a chat's earlier messages on its first
sight, and a message the agency wrote in Avito's own app onto the conversation."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.messaging import queries
from channels.messaging.service import Inbound, accept, when
from connectors.avito.events import AvitoInbound, AvitoMessage
from crm_core.intake import IntakeService
from crm_core.models import Channel, Contact, ContactKind, Inquiry, Message, Property
from crm_core.models.agency import PropertyLink

log = logging.getLogger("hub.avito")


class AvitoService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], intake: IntakeService, *,
                 listings: dict[str, int] | None = None, join_window_days: float = 30.0) -> None:
        self._sessions = sessions
        self._intake = intake
        self._listings = dict(listings or {})
        self._join = timedelta(days=join_window_days)

    async def handle(self, event: AvitoInbound) -> None:
        client = next((m.author_id for m in (event.message, *event.history) if not m.out), None)
        if client is None:
            client = await self._client_of_chat(event.message.chat_id)
        if client is None:
            return  # only the agency wrote, and no client is known in this chat yet
        prop = await self._property(event.item_id)
        for message in (*event.history, event.message):
            await self._one(event, message, client, prop)

    async def _one(self, event: AvitoInbound, m: AvitoMessage, client: int, prop: dict[str, Any] | None) -> None:
        thread = f"avito:{m.chat_id}"
        if m.out:
            await queries.record_outgoing(self._sessions, channel=Channel.AVITO,
                                          keys=[(ContactKind.AVITO, str(client))], thread=thread,
                                          external_id=m.message_id, text=m.text, at=when(m.created))
            return
        meta: dict[str, Any] = {"chat_id": m.chat_id, "user_id": m.author_id}
        if event.item_id:
            meta["item"] = {"id": event.item_id, "title": event.item_title, "url": event.item_url}
        if prop is not None:  # before the intake: routing reads the property's facts and its agent from here
            meta["listing"] = {**prop["listing"], "property_id": prop["id"]}
        text = m.text
        if event.item_title and m is (event.history[0] if event.history else event.message):
            text = f"{text}\n\nОбъявление: {event.item_title} {event.item_url}".rstrip()
        result = await accept(self._sessions, self._intake, Inbound(
            channel=Channel.AVITO, external_id=m.message_id, thread=thread, identity=(ContactKind.AVITO, str(client)),
            text=text, name=event.name or f"Avito {client}", at=when(m.created), meta=meta, notes=m.notes), self._join)
        log.info("avito message inquiry=%s duplicate=%s", result.inquiry_id, result.duplicate)
        if prop is not None and not result.duplicate:
            await self._link(result.inquiry_id, prop["id"])

    async def _client_of_chat(self, chat_id: str) -> int | None:
        """The client of a chat the hub has seen (its inquiry's thread), by their Avito id."""
        async with self._sessions() as s:
            value = (await s.execute(select(Contact.value).join(Inquiry, Inquiry.client_id == Contact.client_id)
                                     .where(Inquiry.thread_key == f"avito:{chat_id}", Contact.kind == ContactKind.AVITO)
                                     .limit(1))).scalar()
        return int(value) if value and value.isdigit() else None

    async def _property(self, item_id: str) -> dict[str, Any] | None:
        """The hub's property the listing names (its ``avito_item_id``, else the settings' ``listings``), with
        its routing facts. An archived property takes no leads."""
        if not item_id:
            return None
        async with self._sessions() as s:
            p = (await s.execute(select(Property).where(Property.avito_item_id == str(item_id)).limit(1))).scalar()
            if p is None and item_id in self._listings:
                p = await s.get(Property, self._listings[item_id])
        if p is None or p.archived:
            return None
        listing = {"district": p.district, "metro": p.metro, "property_type": p.property_type,
                   "deal_type": p.deal_type, "price": float(p.price) if p.price is not None else None,
                   "lat": p.lat, "lon": p.lon}
        return {"id": p.id, "listing": {k: v for k, v in listing.items() if v is not None}}

    async def _link(self, inquiry_id: int, property_id: int) -> None:
        async with self._sessions() as s, s.begin():
            inquiry = await s.get(Inquiry, inquiry_id)
            if inquiry is None:
                return
            if inquiry.property_id is None:
                inquiry.property_id = property_id
            linked = (await s.execute(select(PropertyLink.id).where(
                PropertyLink.property_id == property_id, PropertyLink.inquiry_id == inquiry_id))).scalar()
            if linked is None:
                s.add(PropertyLink(property_id=property_id, inquiry_id=inquiry_id))


class ChatCheck:
    """The outbox's check before an Avito reply is queued (``channels.outbox.REPLY_CHECKS``): the client's
    latest Avito chat, or the reason there is none."""

    async def __call__(self, s: AsyncSession, client_id: int, now: datetime) -> dict[str, str]:
        meta = (await s.execute(select(Message.meta).where(
            Message.client_id == client_id, Message.channel == Channel.AVITO, Message.direction == "in")
            .order_by(Message.id.desc()).limit(1))).scalar()
        chat = meta.get("chat_id") if isinstance(meta, dict) else None
        if not isinstance(chat, str) or not chat:
            raise ValueError("клиент не писал в Avito / the client has no Avito chat")
        return {"chat_id": chat}
