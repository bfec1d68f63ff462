"""The settings pages' data and changes: the index, the contact policy, channels and providers, API keys.

Every change goes through the action that owns it and is written to the audit log with who
made it; secrets (provider passwords and keys, API key secrets) never reach a page after the
one response that must show them, nor the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopline.actions.accounts import audit
from loopline.actions.contact_policy import PolicyRejected, do_set_policy, get_policy
from loopline.actions.providers import ProviderRejected, do_remove_provider, do_set_provider, list_providers
from loopline.actions.workspaces import KeyIssued, do_issue_key, do_revoke_key
from loopline.console.settings_forms import policy_values
from loopline.console.web import ConsoleError, instant_text
from loopline.domain.consent import CHANNELS
from loopline.domain.keys import PREFIXES, KeyKind
from loopline.services import Services

SECTIONS = (
    ("team", "Team", "Who may use this workspace's console, and with which role."),
    ("policy", "Contact policy", "Frequency caps, quiet hours, opt-in channels and the global control group."),
    ("channels", "Channels and providers", "Which relay or gateway carries each channel; the sandbox otherwise."),
    ("keys", "API keys", "Write keys for the SDKs and secret keys for the management API."),
    ("topics", "Topics", "The subscription topics customers choose from in the preference center."),
    ("theme", "Theme", "How the customer-facing pages look."),
    ("audit", "Audit log", "Every change made in this workspace, by whom and when."),
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, as the audit log records it."""

    email: str
    user_id: str
    client: str


def settings_index(services: Services, *, workspace_id: str) -> dict[str, Any]:
    """Return the settings sections with a figure for each that has one."""
    base = f"/console/w/{workspace_id}/settings"
    members = len(services.accounts.members_of_workspace(workspace_id=workspace_id))
    providers = len(services.providers.in_workspace(workspace_id=workspace_id))
    keys = sum(1 for key in services.workspaces.list_keys(workspace_id=workspace_id) if key.revoked_at is None)
    figures = {"team": f"{members} member{'s' if members != 1 else ''}",
               "channels": f"{providers} of {len(CHANNELS)} channels with their own provider",
               "keys": f"{keys} active key{'s' if keys != 1 else ''}"}
    sections = [{"key": key, "title": title, "about": about, "href": f"{base}/{key}", "figure": figures.get(key)}
                for key, title, about in SECTIONS]
    return {"workspace_id": workspace_id, "sections": sections}


# -- contact policy --------------------------------------------------------------------------------


def policy_page(services: Services, *, workspace_id: str) -> dict[str, Any]:
    """Return the workspace's contact policy as stored (the defaults until set) and as the form shows it."""
    document = get_policy(services, workspace_id=workspace_id).model_dump(mode="json")
    return {"workspace_id": workspace_id, "policy": document, "form": policy_values(document), "problems": [],
            "channels": list(CHANNELS)}


def set_policy(services: Services, *, workspace_id: str, actor: Actor, document: dict[str, Any]) -> dict[str, Any]:
    """Validate and store a policy; audit what changed as ``policy.changed``. Raise PolicyRejected."""
    before = get_policy(services, workspace_id=workspace_id).model_dump(mode="json")
    after = do_set_policy(services, workspace_id=workspace_id, data=document).model_dump(mode="json")
    changed = {key: value for key, value in after.items() if before.get(key) != value}
    audit(services, action="policy.changed", actor=actor.email, user_id=actor.user_id, workspace_id=workspace_id,
          target="contact policy", detail={"changed": changed}, client=actor.client)
    return after


def policy_problems(error: PolicyRejected) -> list[dict[str, str]]:
    """Return the policy's problems, each with where it is in words."""
    return [{"path": problem["path"], "where": _where(problem["path"]), "message": problem["message"]}
            for problem in error.problems]


def _where(path: str) -> str:
    parts = path.split(".")
    if parts[0] == "caps" and len(parts) > 1 and parts[1].isdigit():
        field = f", {parts[2].replace('_', ' ')}" if len(parts) > 2 else ""
        return f"Cap {int(parts[1]) + 1}{field}"
    return " ".join(part.replace("_", " ") for part in parts if part).capitalize() or "Policy"


# -- channels and providers ------------------------------------------------------------------------


def channels_page(services: Services, *, workspace_id: str) -> dict[str, Any]:
    """Return each channel with what carries it: the workspace's provider (secrets as set or not) or the sandbox."""
    providers = {item["channel"]: item for item in list_providers(services, workspace_id=workspace_id)}
    channels = []
    for channel in CHANNELS:
        provider = providers.get(channel)
        settings = {key: value for key, value in (provider or {}).items() if key not in ("channel", "secrets")}
        channels.append({"channel": channel, "provider": settings or None,
                         "secrets": (provider or {}).get("secrets", {}),
                         "carried_by": settings.get("kind", "sandbox")})
    email = providers.get("email")
    return {"workspace_id": workspace_id, "channels": channels,
            "smtp": {key: value for key, value in email.items() if key not in ("channel", "secrets")}
            if email and email.get("kind") == "smtp" else None,
            "smtp_password_set": bool(email and email.get("secrets", {}).get("password"))}


def set_provider(services: Services, *, workspace_id: str, actor: Actor, channel: str,
                 data: dict[str, Any]) -> dict[str, Any]:
    """Store a channel's provider through the action; audit channel and kind only (never settings with secrets)."""
    try:
        shown = do_set_provider(services, workspace_id=workspace_id, channel=channel, data=data)
    except ProviderRejected as error:
        problems = "; ".join(f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in error.problems)
        raise ConsoleError(422, error.code, problems or error.message) from None
    audit(services, action="provider.set", actor=actor.email, user_id=actor.user_id, workspace_id=workspace_id,
          target=channel, detail={"channel": channel, "kind": shown.get("kind"),
                                  "secrets_set": sorted(name for name, is_set in shown["secrets"].items() if is_set)},
          client=actor.client)
    return shown


def remove_provider(services: Services, *, workspace_id: str, actor: Actor, channel: str) -> None:
    """Remove a channel's provider (its messages go to the sandbox again); 404 when there is none."""
    if channel not in CHANNELS or not do_remove_provider(services, workspace_id=workspace_id, channel=channel):
        raise ConsoleError(404, "provider_not_found", f"no provider is set for the channel {channel[:40]!r}")
    audit(services, action="provider.removed", actor=actor.email, user_id=actor.user_id, workspace_id=workspace_id,
          target=channel, detail={"channel": channel}, client=actor.client)


# -- API keys --------------------------------------------------------------------------------------


def keys_page(services: Services, *, workspace_id: str, issued: KeyIssued | None = None) -> dict[str, Any]:
    """Return the workspace's keys by their public prefix; a just-issued key's text only in ``new_key``."""
    keys = [{"id": key.id, "kind": key.kind, "label": key.label, "prefix": f"{PREFIXES[KeyKind(key.kind)]}_{key.id}_…",
             "created_at": instant_text(key.created_at), "revoked_at": instant_text(key.revoked_at),
             "active": key.revoked_at is None}
            for key in reversed(services.workspaces.list_keys(workspace_id=workspace_id))]
    new_key = {"id": issued.id, "kind": issued.kind, "key": issued.key} if issued else None
    return {"workspace_id": workspace_id, "keys": keys, "new_key": new_key, "kinds": [kind.value for kind in KeyKind]}


def issue_key(services: Services, *, workspace_id: str, actor: Actor, kind_text: str, label: str) -> KeyIssued:
    """Issue a key and audit it (its id and kind, never its text)."""
    try:
        kind = KeyKind(kind_text.strip().lower())
    except ValueError:
        raise ConsoleError(422, "invalid_kind", "choose the kind of key: write (for the SDKs) or secret "
                                                "(for the management API)") from None
    if len(label) > 200:
        raise ConsoleError(422, "invalid_label", "a key's label may have at most 200 characters")
    issued = do_issue_key(services, workspace_id=workspace_id, kind=kind, label=label.strip())
    audit(services, action="key.created", actor=actor.email, user_id=actor.user_id, workspace_id=workspace_id,
          target=issued.id, detail={"kind": kind.value, "label": label.strip()}, client=actor.client)
    return issued


def revoke_key(services: Services, *, workspace_id: str, actor: Actor, key_id: str) -> None:
    """Revoke a key of the workspace at once and audit it; 404 when it has no such active key."""
    if not do_revoke_key(services, workspace_id=workspace_id, key_id=key_id[:40]):
        raise ConsoleError(404, "key_not_found", "this workspace has no active key with this id")
    audit(services, action="key.revoked", actor=actor.email, user_id=actor.user_id, workspace_id=workspace_id,
          target=key_id, detail={}, client=actor.client)
