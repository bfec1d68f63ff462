"""OpenAPI descriptions of the ingest bodies (the bodies themselves are parsed by the domain)."""

from __future__ import annotations

from typing import Any

_ID = {"type": "string", "maxLength": 256}
_TIME = {"type": "string", "format": "date-time"}
_OBJECT = {"type": "object", "additionalProperties": True}
_COMMON: dict[str, Any] = {
    "messageId": _ID,
    "userId": _ID,
    "anonymousId": _ID,
    "timestamp": _TIME,
    "originalTimestamp": _TIME,
    "sentAt": _TIME,
    "context": _OBJECT,
    "integrations": _OBJECT,
    "writeKey": {"type": "string"},
}
_BY_KIND: dict[str, dict[str, Any]] = {
    "identify": {"traits": _OBJECT},
    "track": {"event": {"type": "string", "minLength": 1, "maxLength": 512},
              "properties": _OBJECT},
    "page": {"name": {"type": "string"}, "category": {"type": "string"}, "properties": _OBJECT},
    "screen": {"name": {"type": "string"}, "properties": _OBJECT},
    "group": {"groupId": _ID, "traits": _OBJECT},
    "alias": {"previousId": _ID},
}
_REQUIRED = {"track": ["event"], "group": ["groupId"], "alias": ["previousId", "userId"]}


def message_schema(kind: str) -> dict[str, Any]:
    """Return the JSON schema of one message of a kind."""
    return {
        "type": "object",
        "properties": {**_COMMON, **_BY_KIND[kind]},
        "required": _REQUIRED.get(kind, []),
        "anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}],
    }


def batch_schema() -> dict[str, Any]:
    """Return the JSON schema of a batch body."""
    item = {"type": "object", "properties": {"type": {"enum": sorted(_BY_KIND)}, **_COMMON},
            "required": ["type"]}
    return {
        "type": "object",
        "properties": {"batch": {"type": "array", "items": item, "minItems": 1},
                       "sentAt": _TIME, "context": _OBJECT, "writeKey": {"type": "string"}},
        "required": ["batch"],
    }


_MESSAGE_ERROR = {
    "type": "object",
    "required": ["index", "code", "message"],
    "properties": {"index": {"type": "integer"}, "messageId": {"type": ["string", "null"]},
                   "code": {"type": "string"}, "message": {"type": "string"}},
}
_RESULT = {
    "type": "object",
    "required": ["success", "accepted", "suppressed", "errors"],
    "properties": {"success": {"type": "boolean"}, "accepted": {"type": "integer"},
                   "suppressed": {"type": "integer"}, "errors": {"type": "array", "items": _MESSAGE_ERROR}},
}


def _result(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _RESULT}}}


def ingest_openapi(kind: str | None) -> dict[str, Any]:
    """Return the OpenAPI fragment of an ingest route: body, auth and responses."""
    schema = message_schema(kind) if kind else batch_schema()
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "security": [{"writeKeyBasic": []}],
        "responses": {
            "200": _result("Every message was stored."),
            "207": _result("Some messages were stored; the others are listed in errors."),
            "400": {"description": "Malformed body, or no valid message."},
            "401": {"description": "Missing, unknown, revoked or mixed write keys."},
            "413": {"description": "The body is over the batch limit."},
            "415": {"description": "Not JSON, or an unsupported content encoding."},
            "429": {"description": "The workspace's rate limit is reached, or this address presented"
                                   " too many rejected keys; see Retry-After."},
            "503": {"description": "Ingest is saturated or the store is down; see Retry-After."},
        },
    }
