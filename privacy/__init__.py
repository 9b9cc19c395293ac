"""Personal data under 152-ФЗ: consents, the access log, a client's export and erasure, retention, hidden
phone numbers. docs/privacy.md describes it for the agency."""
