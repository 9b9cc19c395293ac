"""The OpenAPI 3.1 document, made from the operations themselves: the same pydantic models that validate a
request and shape an answer are its schemas, so the document cannot drift from what the handlers do."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel

from api.operations import Op
from api.problems import MEDIA, Problem
from web.guard import ROW_ID_MAX

REF = "#/components/schemas/{model}"
PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def openapi_path(path: str) -> str:
    """aiohttp's ``{id:\\d+}`` is OpenAPI's ``{id}``."""
    return PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def document(ops: list[Op], *, version: str = "1.0.0") -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel], mode: str) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}

    problem = {"content": {MEDIA: {"schema": ref(Problem, "serialization")}}}
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = _operation(op, ref, problem)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Contact-center hub API", "version": version,
                 "description": "The hub's REST API. Errors are RFC 9457 problem details. See docs/api.md."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "An API token made by an administrator at /admin/api-tokens"},
            "session": {"type": "apiKey", "in": "cookie", "name": "hub_sid",
                        "description": "A logged-in browser; changes also need the X-CSRF-Token header"},
        }},
    }


def _operation(op: Op, ref, problem: dict) -> dict[str, Any]:  # noqa: ANN001
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 0, "maximum": ROW_ID_MAX}}
        for name in PATH_PARAM.findall(op.path)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF)
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            description = prop.pop("description", None)
            params.append({"name": name, "in": "query", "required": name in schema.get("required", ()),
                           "schema": prop, **({"description": description} if description else {})})
    if op.etag and op.write:
        params.append({"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                       "description": "The ETag read with the record: the change is refused (412) if it changed"})
    if op.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"},
                       "description": "A repeat with the same key gets the first answer (header Idempotent-Replayed)"})
    responses: dict[str, Any] = {str(op.status): _success(op, ref)}
    errors = {401, 403, 429, *op.errors}
    if op.query is not None or op.body is not None or op.idempotent:
        errors.add(400)
    if PATH_PARAM.search(op.path):
        errors.add(404)
    if op.etag and op.write:
        errors.add(412)
    if op.idempotent:
        errors.add(422)
    for code in sorted(errors):
        responses[str(code)] = {"description": HTTPStatus(code).phrase, **problem}
        if code == 429:
            responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                           "description": "Seconds to wait"}}
    responses["default"] = {"description": "Any other error (405, 503, …)", **problem}
    out: dict[str, Any] = {
        "operationId": op.operation_id, "summary": op.summary, "tags": [op.tag or op.resource],
        "parameters": params, "responses": responses,
        "security": [{"bearer": []}, {"session": []}],
    }
    if op.description:
        out["description"] = op.description
    if op.deprecated:
        out["deprecated"] = True
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(op.body, "validation")}}}
    return out


def _success(op: Op, ref) -> dict[str, Any]:  # noqa: ANN001
    description = HTTPStatus(op.status).phrase
    if op.binary is not None:
        return {"description": description, "content": {op.binary: {"schema": {"type": "string",
                                                                                "format": "binary"}}}}
    if op.response is None:
        return {"description": description}
    ok: dict[str, Any] = {"description": description,
                          "content": {"application/json": {"schema": ref(op.response, "serialization")}}}
    if op.etag:
        ok["headers"] = {"ETag": {"schema": {"type": "string"}, "description": "Send it back in If-Match"}}
    return ok
