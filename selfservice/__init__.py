"""Client self-service: a one-time sign-in link (email or Telegram, no password) to the client's own page."""
