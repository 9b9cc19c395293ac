class WebFormError(Exception):
    """A form that cannot be accepted; ``status`` is the HTTP answer and ``fields`` the per-field messages."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.fields = fields or {}
        self.headers = headers or {}
