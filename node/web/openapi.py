"""The OpenAPI 3.1 document, generated from the route table so it cannot drift from it."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from node.web.api import ROUTES, Route

_PARAM = re.compile(r"\{([a-z_]+)\}")
_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}


# What the handlers accept in a path (anything else is 404): numbers the node gave out, or
# envelope ids in hex.
_NUMBERED = {"amendment_id", "ballot_id", "join_id", "member_id", "motion_id", "token_id"}


def _path_schema(name: str) -> dict[str, Any]:
    if name in _NUMBERED:
        return {"type": "string", "pattern": r"^[0-9]{1,18}$"}
    return {"type": "string", "pattern": r"^[0-9a-fA-F]{64}$"}


def _operation(route: Route, schemas: dict[str, Any], refs: dict[Any, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "x-access": route.access,
        "responses": {
            "default": {
                "description": "error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
    }
    if route.access != "public":
        op["security"] = [{"session": []}, {"token": []}]
    parameters = [{"name": p, "in": "path", "required": True, "schema": _path_schema(p)}
                  for p in _PARAM.findall(route.path)]  # fmt: skip
    parameters += [{"name": q.name, "in": "query", "required": q.required, "schema": q.schema} for q in route.query]
    if parameters:
        op["parameters"] = parameters
    if route.request is not None:
        op["requestBody"] = {"required": not route.body_optional,
                             "content": {"application/json": {"schema": refs[route.request]}}}
    elif route.request_type != "application/json":
        op["requestBody"] = {"required": True, "content": {route.request_type: {"schema": {"type": "string"}}}}
    ok: dict[str, Any] = {"description": "success"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": refs[route.response]}}
    op["responses"][str(route.status)] = ok
    return op


def openapi_document() -> dict[str, Any]:
    types = sorted({t for r in ROUTES for t in (r.request, r.response) if t is not None}, key=repr)
    type_schemas, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    refs = dict(zip(types, type_schemas, strict=True))
    components["Error"] = _ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components, refs)
    paths["/api/v1/openapi.json"] = {"get": {"summary": "This document", "operationId": "openapi", "x-access": "public",
                                             "responses": {"200": {"description": "success"}}}}  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "branchnet node API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "bn_session"},
                "token": {"type": "http", "scheme": "bearer"},
            },
        },
    }
