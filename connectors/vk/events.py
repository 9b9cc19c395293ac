from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VkInbound:
    """One Callback API event in the hub's terms. ``kind``: message (message_new), reply (message_reply: the
    community's own message, sent from VK or by the hub), edit (message_edit), allow, deny."""

    event_id: str
    kind: str
    user_id: int
    peer_id: int = 0
    message_id: str = ""
    """``peer_id:conversation_message_id``: the message's id within the community's dialogue."""
    text: str = ""
    links: tuple[str, ...] = ()
    """Each attachment as a link (a photo's largest size, a document, a voice note…)."""
    notes: tuple[str, ...] = ()
    date: int = 0
    random_id: int = 0
    name: str = ""
