"""The API has no loop of its own: ``VIEWS`` are its routes (``/api/v1``, the document, the tokens page)."""

VIEWS = ("api.views", "api.views_admin")
