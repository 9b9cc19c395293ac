"""Every operation under ``/api/`` and the document that describes them all.

The operations of ``/api/v1`` and the old five are ``Op`` values; the few routes under ``/api/`` that are not
(the document itself, its reference page, agency's owner-leads import with its own key) are described here by
hand. ``tests/api`` fails when a route under ``/api/`` is missing from the document."""

from __future__ import annotations

from functools import cache
from typing import Any

from api import (
    views_calls,
    views_clients,
    views_inquiries,
    views_legacy,
    views_privacy,
    views_reports,
    views_staff,
    views_work,
)
from api.openapi import document
from api.operations import Op


def operations() -> list[Op]:
    return [*views_staff.OPS, *views_clients.OPS, *views_privacy.OPS, *views_inquiries.OPS, *views_calls.OPS,
            *views_work.OPS, *views_reports.OPS, *views_legacy.OPS]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _document_routes() -> dict[str, dict[str, Any]]:
    doc = {"get": {"operationId": "openapi_document", "summary": "This document (OpenAPI 3.1)", "tags": ["meta"],
                   "security": [], "responses": {"200": {"description": "OK", "content": {"application/json": {
                       "schema": {"type": "object"}}}}, "default": _problem("Error")}}}
    legacy_doc = {"get": {**doc["get"], "operationId": "legacy_openapi_document", "deprecated": True,
                          "summary": "The same document at its old address"}}
    page = {"get": {"operationId": "reference_page", "summary": "The reference, as a page", "tags": ["meta"],
                    "security": [], "responses": {"200": {"description": "OK", "content": {"text/html": {
                        "schema": {"type": "string"}}}}, "default": _problem("Error")}}}
    leads = {"post": {
        "operationId": "agency_owner_leads", "tags": ["agency"],
        "summary": "Owner leads in bulk (agency import; its own key: [agency] import_token, 404 while unset)",
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "minItems": 1, "items": {"type": "object"}},
                "source": {"type": "string"}, "department_id": {"type": "integer"}}}}}},
        "responses": {
            "200": {"description": "Imported", "content": {"application/json": {"schema": {
                "type": "object", "required": ["rows", "created", "duplicates", "errors"], "properties": {
                    "rows": {"type": "integer"}, "created": {"type": "integer"}, "duplicates": {"type": "integer"},
                    "errors": {"type": "array", "items": {"type": "object"}}}}}}},
            **{str(c): _problem(d) for c, d in ((400, "Not JSON"), (401, "Wrong key"), (404, "Not configured"),
                                                 (413, "Too many items"), (422, "Invalid items"))},
            "default": _problem("Error")}}}
    return {"/api/v1/openapi.json": doc, "/api/openapi.json": legacy_doc, "/api/v1/docs": page,
            "/api/agency/owner-leads": leads}


@cache
def openapi() -> dict[str, Any]:
    doc = document(operations())
    doc["paths"].update(_document_routes())
    return doc
