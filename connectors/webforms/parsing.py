"""Turn a bounded request body (urlencoded, multipart or JSON) into a flat dict of text fields."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import cast
from urllib.parse import parse_qsl

from connectors.webforms.errors import WebFormError


def parse_body(content_type: str, raw_content_type: str, body: bytes, max_field_chars: int) -> dict[str, object]:
    if content_type == "application/json":
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WebFormError(400, f"тело не JSON / body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise WebFormError(400, "ожидался JSON-объект / a JSON object was expected")
        fields = data
    elif content_type == "application/x-www-form-urlencoded":
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100))
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebFormError(400, f"форма не читается / unreadable form: {exc}") from None
    elif content_type == "multipart/form-data":
        fields = _multipart(raw_content_type, body)
    else:
        raise WebFormError(415, "нужен application/x-www-form-urlencoded, multipart/form-data или application/json")
    too_long = {k: f"слишком длинно / too long (max {max_field_chars})"
                for k, v in fields.items() if isinstance(v, str) and len(v) > max_field_chars}
    if too_long:
        raise WebFormError(422, "поля слишком длинные / fields too long", too_long)
    return fields


def _multipart(raw_content_type: str, body: bytes) -> dict[str, object]:
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + raw_content_type.encode("latin-1") +
                                                  b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise WebFormError(400, "повреждённый multipart / broken multipart body")
    fields: dict[str, object] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name or part.get_filename():
            continue  # files are not taken through the public form
        payload = cast(bytes, part.get_payload(decode=True) or b"")  # decode=True: bytes, not a Message
        try:
            fields[str(name)] = payload.decode(part.get_content_charset() or "utf-8")
        except (UnicodeDecodeError, LookupError):
            raise WebFormError(400, f"поле {name}: неизвестная кодировка / unknown charset") from None
    return fields
