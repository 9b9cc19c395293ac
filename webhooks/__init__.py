"""Outgoing webhooks: signed events for the agency's site, 1С, amoCRM or Bitrix24 (docs/webhooks.md)."""
