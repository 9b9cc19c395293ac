"""The integration API ``/api/v1``: operations described once (pydantic models give both the validation and the
OpenAPI 3.1 document), API tokens for outside systems, RFC 9457 problem details for every error."""
