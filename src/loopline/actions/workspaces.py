"""Create workspaces and issue or revoke their keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ulid import ULID

from loopline.actions.segment_maintenance import ensure_builtin_segments
from loopline.domain.keys import SECRET_BYTES, KeyKind, format_key, hash_secret
from loopline.services import Services


@dataclass(frozen=True, slots=True)
class WorkspaceCreated:
    """A new workspace and its first keys, shown once."""

    id: str
    name: str
    write_key: str
    secret_key: str


@dataclass(frozen=True, slots=True)
class KeyIssued:
    """A new key: its id for management, its text shown once."""

    id: str
    kind: str
    key: str


def do_issue_key(services: Services, *, workspace_id: str, kind: KeyKind, label: str = "") -> KeyIssued:
    """Generate a key with 256 bits of entropy and store only its digest."""
    key_id = str(ULID()).lower()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    services.workspaces.create_key(
        key_id=key_id,
        workspace_id=workspace_id,
        kind=kind.value,
        secret_hash=hash_secret(secret),
        label=label,
        now=services.clock.now(),
    )
    return KeyIssued(key_id, kind.value, format_key(kind, key_id, secret))


def do_create_workspace(services: Services, *, name: str) -> WorkspaceCreated:
    """Create a workspace with one write key (ingest) and one secret key (management)."""
    workspace_id = "ws_" + str(ULID()).lower()
    services.workspaces.create_workspace(
        workspace_id=workspace_id, name=name, now=services.clock.now()
    )
    write = do_issue_key(services, workspace_id=workspace_id, kind=KeyKind.WRITE, label="default source")
    secret = do_issue_key(services, workspace_id=workspace_id, kind=KeyKind.SECRET, label="default")
    ensure_builtin_segments(services, workspace_id=workspace_id)
    return WorkspaceCreated(workspace_id, name, write.key, secret.key)


def do_revoke_key(services: Services, *, workspace_id: str, key_id: str) -> bool:
    """Revoke a key of the workspace; return False if it has no such active key."""
    return services.workspaces.revoke_key(
        workspace_id=workspace_id, key_id=key_id, now=services.clock.now()
    )
