"""Last week's inquiries for the what-if replay: web forms about flats in the centre (inside the test square)
and far out, all really given to one agent, some accepted late, all done by the next day."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_core.intake import IntakeRequest
from crm_core.models import Channel, Inquiry, InquiryStatus, Property, utcnow

MOSCOW = ZoneInfo("Europe/Moscow")
CENTRE = (55.751, 37.618)  # lat, lon: inside a square drawn around the middle of the editor's map
FAR = (55.95, 37.30)


def last_week_day(weekday: int, hour: int) -> datetime:
    """That weekday of the week before this one, at ``hour`` Moscow time (the replay page's default period)."""
    today = utcnow().date()
    monday = today - timedelta(days=today.weekday() + 7)
    return datetime.combine(monday + timedelta(days=weekday), time(hour), MOSCOW).astimezone(UTC)


async def seed_last_week(hub, owner_id: int, inside: int = 3, outside: int = 3, price: float = 30_000_000) -> list[int]:  # noqa: ANN001
    ids = []
    for n in range(inside + outside):
        lat, lon = CENTRE if n < inside else FAR
        res = await hub.intake.accept(IntakeRequest(channel=Channel.WEBFORM, external_id=f"lw{n}", name=f"Клиент {n}",
                                                    phone=f"+7916555{n:04d}", text="Квартира", subject="Квартира"))
        created = last_week_day(1 + n % 3, 11)
        async with hub.database.sessions() as s, s.begin():
            prop = Property(address=f"Адрес {n}", lat=lat, lon=lon, price=price, deal_type="sale")
            s.add(prop)
            await s.flush()
            inquiry = await s.get(Inquiry, res.inquiry_id)
            inquiry.property_id, inquiry.owner_id, inquiry.created_at = prop.id, owner_id, created
            inquiry.accepted_at = created + timedelta(hours=6 if n % 2 else 1)
            # done the next day: the hub's SLA chain leaves them alone whatever day the test runs
            inquiry.status, inquiry.closed_at = InquiryStatus.DONE, created + timedelta(days=1)
        ids.append(res.inquiry_id)
    return ids
