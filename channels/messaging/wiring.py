"""``VIEWS``: the client card's identities (merging two cards of one person)."""

from __future__ import annotations

VIEWS = ("channels.messaging.views",)
