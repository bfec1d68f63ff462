"""Find the key a request carries and the workspace it acts for; tenant isolation starts here."""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import Request

from loopline.actions.keys import KeyRejected, Principal, TooManyFailures
from loopline.api.errors import ApiError
from loopline.domain.keys import KeyKind

ADMIN_WORKSPACE_HEADER = "x-loopline-workspace"


def basic_user(request: Request) -> str | None:
    """Return the user part of HTTP Basic auth, where Segment SDKs put the write key."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "invalid_authorization", "the Basic authorization header is malformed") from None
    return decoded.split(":", 1)[0] or None


def bearer(request: Request) -> str | None:
    """Return a bearer token, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(error: TooManyFailures) -> ApiError:
    return ApiError(429, "too_many_failed_keys", str(error),
                    headers={"Retry-After": str(int(error.retry_after + 0.999))})


def authenticate_write_key(request: Request, key: str | None) -> Principal:
    """Return the principal of a write key or answer 401."""
    if not key:
        raise ApiError(401, "missing_write_key",
                       "send the write key as the Basic auth user or as writeKey in the body")
    keys = request.app.state.runtime.keys
    try:
        return keys.authenticate(key, kind=KeyKind.WRITE, client=_client(request))  # type: ignore[no-any-return]
    except TooManyFailures as error:
        raise _too_many(error) from None
    except KeyRejected as error:
        raise ApiError(401, "invalid_write_key", str(error)) from None


def access_workspace(request: Request) -> str:
    """Return the workspace a management request acts for: its secret key's, or the admin's pick."""
    token = bearer(request)
    if not token:
        raise ApiError(401, "missing_secret_key", "send a secret key as 'Authorization: Bearer …'")
    admin = request.app.state.admin_token
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        workspace_id = request.headers.get(ADMIN_WORKSPACE_HEADER, "")
        if not request.app.state.runtime.services.workspaces.get_workspace(workspace_id=workspace_id):
            raise ApiError(404, "workspace_not_found", "no such workspace")
        return workspace_id
    try:
        principal = request.app.state.runtime.keys.authenticate(token, kind=KeyKind.SECRET, client=_client(request))
    except TooManyFailures as error:
        raise _too_many(error) from None
    except KeyRejected as error:
        raise ApiError(401, "invalid_secret_key", str(error)) from None
    return principal.workspace_id  # type: ignore[no-any-return]


def require_admin(request: Request) -> None:
    """Allow only the instance administrator (the token in the server's data directory)."""
    token = bearer(request) or ""
    admin = request.app.state.admin_token
    if not admin or not hmac.compare_digest(token.encode(), admin.encode()):
        try:
            request.app.state.runtime.keys.failures.check_failure(_client(request))
        except TooManyFailures as error:
            raise _too_many(error) from None
        raise ApiError(401, "admin_only", "this route needs the instance administrator token")
