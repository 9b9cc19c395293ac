"""WhatsApp's customer service window: a free-form reply only within 24 hours of the client's last message;
outside it only an approved template. Pure: the decision, with its reason in the agent's words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


class OutsideWindow(ValueError):
    """Neither a free-form reply nor a template: the reason, for the agent."""


@dataclass(frozen=True, slots=True)
class WindowRule:
    hours: float = 24.0
    template: str = ""

    def reply_meta(self, last_inbound: datetime | None, now: datetime) -> dict[str, str]:
        """``{}`` for a free-form reply, ``{"template": name}`` outside the window; OutsideWindow when neither."""
        if last_inbound is not None and now - last_inbound < timedelta(hours=self.hours):
            return {}
        if self.template:
            return {"template": self.template}
        since = "клиент ещё не писал в WhatsApp" if last_inbound is None else (
            f"последнее сообщение клиента в WhatsApp было более {self.hours:g} ч назад")
        raise OutsideWindow(
            f"Ответ в WhatsApp не отправлен: {since}, а вне 24-часового окна WhatsApp принимает только "
            "одобренный шаблон, и шаблон не настроен ([whatsapp] template_name). Ответьте по другому каналу "
            "или позвоните клиенту. / Not sent: outside WhatsApp's 24-hour window only an approved template may "
            "be sent, and none is set.")
