"""Settings in a real browser: an admin adds a marketer to the team, finds the change in the audit log,
opens the contact policy form, makes a key and opens the channels. Screenshots go to
``LOOPLINE_SCREENSHOTS`` (default: the test's temporary directory)."""

from __future__ import annotations

from pathlib import Path

from tests.console.browser import needs_browser, signed_in_page
from tests.console.conftest import member
from tests.e2e.conftest import LiveServer

pytestmark = needs_browser


def test_an_admin_adds_a_marketer_and_finds_it_in_the_audit_log(live: LiveServer, shots: Path) -> None:
    from playwright.sync_api import expect

    email = member(live.runtime, live.workspace.id)
    settings = f"{live.url}/console/w/{live.workspace.id}/settings"
    with signed_in_page(live, email) as (page, problems):
        page.get_by_role("navigation", name="Pages").get_by_role("link", name="Settings").click()
        expect(page).to_have_url(settings)
        page.get_by_test_id("settings-team").click()
        expect(page).to_have_url(f"{settings}/team")
        expect(page.get_by_test_id("settings-tab-team")).to_have_attribute("aria-current", "page")

        form = page.get_by_test_id("add-member")
        form.get_by_label("E-mail address").fill("kim@example.com")
        form.get_by_label("Name").fill("Kim")
        form.get_by_label("Password").fill("a long password for Kim")
        form.get_by_label("Role").select_option("marketer")
        form.get_by_role("button", name="Add to the workspace").click()
        expect(page).to_have_url(f"{settings}/team")
        kim = page.locator('[data-testid=member][data-email="kim@example.com"]')
        expect(kim).to_have_count(1)
        expect(kim.get_by_test_id("member-role")).to_have_value("marketer")
        expect(page.get_by_test_id("member")).to_have_count(2)
        page.screenshot(path=str(shots / "settings-team.png"), full_page=True)

        page.get_by_test_id("settings-tab-audit").click()
        expect(page).to_have_url(f"{settings}/audit")
        added = page.locator("[data-testid=audit-entry][data-action='membership.changed']", has_text="kim@")
        expect(added).to_have_count(1)
        expect(added).to_contain_text("ana@example.com")
        expect(added).to_contain_text("role: marketer")
        page.screenshot(path=str(shots / "settings-audit.png"), full_page=True)

        page.get_by_test_id("settings-tab-policy").click()
        expect(page).to_have_url(f"{settings}/policy")
        expect(page.get_by_test_id("cap-row")).to_have_count(2)
        page.screenshot(path=str(shots / "settings-policy.png"), full_page=True)

        page.get_by_test_id("settings-tab-keys").click()
        page.get_by_test_id("key-form").get_by_label("Label").fill("Reporting")
        page.get_by_role("button", name="Make the key").click()
        expect(page.get_by_test_id("new-key-text")).to_contain_text("llw_")
        expect(page.get_by_test_id("key")).to_have_count(3)
        page.screenshot(path=str(shots / "settings-keys.png"), full_page=True)
        # Revoking asks first: the button is only reached by opening what it will do.
        reporting = page.locator("[data-testid=key]", has_text="Reporting")
        expect(reporting.get_by_test_id("key-revoke")).not_to_be_visible()
        reporting.get_by_text("Revoke…").click()
        expect(reporting.get_by_test_id("key-revoke-confirm")).to_contain_text("cannot be undone")
        reporting.get_by_test_id("key-revoke").click()
        expect(page.locator("[data-testid=key]", has_text="Reporting")).to_contain_text("revoked")
        page.get_by_test_id("settings-tab-channels").click()
        expect(page.get_by_test_id("channel")).to_have_count(5)
        page.screenshot(path=str(shots / "settings-channels.png"), full_page=True)
        assert problems == []
    for name in ("settings-team.png", "settings-audit.png", "settings-policy.png", "settings-keys.png",
                 "settings-channels.png"):
        assert (shots / name).stat().st_size > 10_000, name
