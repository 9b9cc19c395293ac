"""Each channel's small icon (inline SVG drawn for the hub: a coloured badge with a letter mark, no brand
artwork) and a client's identity on a channel as a reader sees it. Pure: strings in, strings out."""

from __future__ import annotations

from html import escape

BADGES = {  # channel or contact kind → (colour, mark)
    "call": ("#2e7d32", "☎"), "phone": ("#2e7d32", "☎"), "email": ("#6d4c41", "@"),
    # marks a Russian reader reads (the name is in the title and aria-label): a paper plane, ВК, a handset
    "telegram": ("#229ed9", "✈"), "vk": ("#0077ff", "ВК"), "whatsapp": ("#25d366", "✆"),
    "avito": ("#00aaff", "Ав"), "sms": ("#455a64", "СМС"),
    "webform": ("#7b1fa2", "▤"), "visit": ("#ef6c00", "⌂"), "manual": ("#607d8b", "✎"),
}
NAMES = {"call": "Звонок", "phone": "Телефон", "email": "Email", "telegram": "Telegram", "vk": "ВКонтакте",
         "whatsapp": "WhatsApp", "avito": "Авито", "sms": "СМС",
         "webform": "Форма на сайте", "visit": "Визит", "manual": "Вручную"}


def icon_svg(kind: str) -> str:
    colour, mark = BADGES.get(str(kind), ("#9e9e9e", "?"))
    name = escape(NAMES.get(str(kind), str(kind)))
    size = 9 if len(mark) > 1 else 12
    return (f'<svg class="channel-icon channel-icon-{escape(str(kind))}" role="img" aria-label="{name}" '
            f'width="18" height="18" viewBox="0 0 18 18"><title>{name}</title>'
            f'<rect width="18" height="18" rx="4" fill="{colour}"/>'
            f'<text x="9" y="13" font-size="{size}" font-family="sans-serif" font-weight="bold" fill="#fff" '
            f'text-anchor="middle">{escape(mark)}</text></svg>')


def identity_text(kind: str, value: str) -> str:
    """A contact as shown: a VK id as «id123», a WhatsApp number with its plus."""
    if kind == "vk":
        return f"id{value}"
    if kind == "whatsapp":
        return f"+{value}" if value.isdigit() else value
    if kind == "telegram":
        return f"id {value}"
    return value


def identity_link(kind: str, value: str) -> str | None:
    """Where the agent opens the dialogue outside the hub (VK profile, WhatsApp chat)."""
    if kind == "vk" and value.isdigit():
        return f"https://vk.com/id{value}"
    if kind == "whatsapp" and value.isdigit():
        return f"https://wa.me/{value}"
    return None


def message_identity(channel: str, meta: object) -> str:
    """The client's identity a message came from, from its stored meta ("" when it does not say)."""
    if not isinstance(meta, dict):
        return ""
    if channel == "whatsapp" and meta.get("wa_id"):
        return identity_text("whatsapp", str(meta["wa_id"]))
    if channel == "vk" and meta.get("peer_id"):
        return identity_text("vk", str(meta["peer_id"]))
    if channel == "telegram" and meta.get("chat_id"):
        return identity_text("telegram", str(meta["chat_id"]))
    return ""
