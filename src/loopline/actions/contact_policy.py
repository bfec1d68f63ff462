"""Read and replace a workspace's contact policy, and the rules every send obeys."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from loopline.domain.campaigns import CampaignInvalid
from loopline.domain.contact_rules import PolicyDocument, parse_policy
from loopline.domain.preferences import OPTED_OUT
from loopline.domain.recipients import Rules
from loopline.services import Services


class PolicyRejected(ValueError):
    """A policy document that cannot be saved; ``problems`` says where and why."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(problem["message"] for problem in problems))
        self.code, self.problems = "invalid_policy", problems


def get_policy(services: Services, *, workspace_id: str) -> PolicyDocument:
    """Return the workspace's policy, the defaults when it never set one."""
    stored = services.contact_policies.get(workspace_id=workspace_id)
    return PolicyDocument.model_validate(stored) if stored is not None else PolicyDocument()


def rules_for(services: Services, *, workspace_id: str, policy: PolicyDocument) -> Rules:
    """Return the rules a send obeys: the policy's, plus the catalogue's topics that need their own opt-in."""
    opt_in_topics = frozenset(topic.key for topic in services.topics.list_topics(workspace_id=workspace_id)
                              if topic.default_status == OPTED_OUT)
    return replace(policy.rules(), opt_in_topics=opt_in_topics)


def do_set_policy(services: Services, *, workspace_id: str, data: Any) -> PolicyDocument:
    """Validate and store a policy document; it governs every send claimed from now on."""
    try:
        document = parse_policy(data)
    except CampaignInvalid as error:
        raise PolicyRejected(error.problems) from None
    services.contact_policies.put(workspace_id=workspace_id, policy=document.model_dump(mode="json"),
                                  now=services.clock.now())
    return document
