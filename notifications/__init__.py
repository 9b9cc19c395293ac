"""One notification center: notices to the hub's people (browser, their own Telegram chat, email) per their
preferences, each sent once; clients' memorable dates with reminders to the owner and greetings."""
