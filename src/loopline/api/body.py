"""Read a request body within limits: size, gzip, content type and JSON validity."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import Request

from loopline.api.errors import ApiError

JSON_TYPES = ("application/json", "text/plain", "")


async def read_limited(request: Request, *, limit: int) -> bytes:
    """Return the raw body, refusing with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, "batch_too_large", f"the request body is larger than the {limit // 1024} KB limit"
    )


def decompress(body: bytes, encoding: str, *, limit: int) -> bytes:
    """Undo gzip or deflate content encoding without inflating past ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise ApiError(415, "unsupported_encoding", f"content encoding {encoding!r} is not supported")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise ApiError(400, "invalid_gzip", "the request body is not valid gzip data") from None
    if len(data) > limit:
        raise _too_large(limit)
    if not inflater.eof:
        raise ApiError(400, "invalid_gzip", "the gzip data is truncated")
    return data


def parse_json(body: bytes, content_type: str) -> Any:
    """Parse a JSON body, answering 415 for other media types and 400 for malformed JSON."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise ApiError(415, "unsupported_content_type", f"send JSON (application/json), not {media}")
    if not body.strip():
        raise ApiError(400, "empty_body", "the request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None
