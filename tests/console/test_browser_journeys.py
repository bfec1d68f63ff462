"""The journeys pages in a real browser: from the navigation to the list, then a journey with planted
enrolments drawn as a flow with its counts, then its editor checking JSON as it is typed. Screenshots
``journeys.png``, ``journey.png`` and ``journey-editor.png`` go to the ``shots`` folder."""

from __future__ import annotations

from pathlib import Path

import httpx

from loopline.actions.journeys import JourneyEngine
from tests.conftest import basic
from tests.console.browser import BROWSER, needs_browser, signed_in_page
from tests.console.conftest import member
from tests.e2e.conftest import LiveServer

pytestmark = needs_browser

WELCOME = {
    "trigger": {"type": "event", "event": "Signed Up"}, "entry": {"rule": "once"},
    "goal": {"event": "Order Completed"},
    "steps": [
        {"id": "hello", "type": "send", "channels": ["email"], "next": "pause",
         "content": {"email": {"subject": "Welcome aboard", "body": "<p>Hello</p>"}}},
        {"id": "pause", "type": "wait", "minutes": 2_880, "next": "pro"},
        {"id": "pro", "type": "branch", "then": "offer", "otherwise": "done",
         "condition": {"source": "trait", "path": "plan", "test": {"operator": "eq", "value": "pro"}}},
        {"id": "offer", "type": "send", "channels": ["email"],
         "content": {"email": {"subject": "A gift for you", "body": "<p>Code PRO10</p>"}}},
        {"id": "done", "type": "exit"},
    ],
}


def _plant(live: LiveServer) -> str:
    """Create and activate the welcome journey, and let four customers sign up; return its id."""
    secret = {"Authorization": f"Bearer {live.workspace.secret_key}"}
    api = f"{live.url}/api/v1"
    assert httpx.put(f"{api}/contact-policy", headers=secret, json={"opt_in_channels": []}).status_code == 200
    created = httpx.post(f"{api}/journeys", headers=secret, json={"name": "Welcome", "definition": WELCOME})
    assert created.status_code == 201, created.text
    journey_id: str = created.json()["id"]
    assert httpx.post(f"{api}/journeys/{journey_id}/activate", headers=secret).status_code == 200
    batch = [{"type": "identify", "userId": f"w-{n}", "traits": {"email": f"w{n}@example.com", "plan": "pro"}}
             for n in range(4)]
    batch += [{"type": "track", "userId": f"w-{n}", "event": "Signed Up"} for n in range(4)]
    answer = httpx.post(f"{live.url}/v1/batch", headers=basic(live.workspace.write_key), json={"batch": batch})
    assert answer.status_code == 200, answer.text
    live.settle()
    JourneyEngine(live.runtime.services, live.runtime.pipeline).catch_up()
    enrolled = httpx.get(f"{api}/journeys/{journey_id}/enrollments", headers=secret).json()["items"]
    assert [(e["state"], e["step_id"]) for e in enrolled] == [("active", "pause")] * 4
    return journey_id


def test_the_journey_is_drawn_as_a_flow_with_its_counts(live: LiveServer, shots: Path) -> None:
    from playwright.sync_api import expect

    email = member(live.runtime, live.workspace.id)
    journey_id = _plant(live)
    assert BROWSER is not None
    written: list[Path] = []
    with signed_in_page(live, email, viewport=(1280, 1000)) as (page, problems):
        page.get_by_role("link", name="Journeys").click()
        expect(page).to_have_url(f"{live.url}/console/w/{live.workspace.id}/journeys")
        row = page.get_by_test_id("journey-row")
        expect(row).to_have_count(1)
        expect(row.locator("[data-count=enrolled]")).to_have_text("4")
        expect(row.locator("[data-count=active]")).to_have_text("4")
        written.append(shots / "journeys.png")
        page.screenshot(path=str(written[-1]), full_page=True)

        page.get_by_test_id("journey-link").click()
        expect(page).to_have_url(f"{live.url}/console/w/{live.workspace.id}/journeys/{journey_id}")
        expect(page.get_by_test_id("journey-name")).to_have_text("Welcome")
        flow = page.get_by_test_id("flow")
        expect(flow.get_by_test_id("node")).to_have_count(7)  # trigger, five steps, the end after "offer"
        hello = flow.locator("[data-node=hello]")
        expect(hello).to_contain_text("Welcome aboard")
        expect(hello.locator("[data-count=entered]")).to_have_text("4")
        expect(hello.locator("[data-count=sent]")).to_have_text("4")
        expect(flow.locator("[data-node=pause] [data-count=here_now]")).to_have_text("4")
        expect(flow.locator("[data-node=pro]")).to_contain_text("If trait plan is pro")
        expect(flow.locator("[data-node=pro] [data-count=entered]")).to_have_text("0")
        # The boxes are laid out: the branch's two paths side by side, below the branch.
        boxes = {name: flow.locator(f"[data-node={name}]").bounding_box() for name in ("pro", "offer", "done")}
        pro, offer, done = boxes["pro"], boxes["offer"], boxes["done"]
        assert pro is not None
        assert offer is not None
        assert done is not None
        assert offer["y"] == done["y"] > pro["y"] + pro["height"]
        assert offer["x"] + offer["width"] < done["x"]
        assert flow.locator("svg path.edge").count() == 6
        written.append(shots / "journey.png")
        page.screenshot(path=str(written[-1]), full_page=True)
        assert not problems, problems

        page.get_by_test_id("edit-journey").click()
        editor = page.get_by_test_id("definition-input")
        editor.fill('{"trigger": ')
        expect(page.locator(".journey-editor p.alert")).to_contain_text("Not valid JSON yet")
        editor.fill('{"trigger": {"type": "event", "event": "Signed Up"}, "steps": []}')
        expect(page.locator(".journey-editor p.alert")).to_be_hidden()
        page.get_by_role("button", name="Format JSON").click()
        expect(editor).to_have_value('{\n  "trigger": {\n    "type": "event",\n    "event": "Signed Up"\n  },\n'
                                     '  "steps": []\n}')
        page.get_by_test_id("save-journey").click()
        expect(page.get_by_test_id("editor-error")).to_contain_text("The journey was not saved")
        expect(page.get_by_test_id("editor-problems")).to_contain_text("steps")
        written.append(shots / "journey-editor.png")
        page.screenshot(path=str(written[-1]), full_page=True)
        # The refused save answered 422, which the browser reports; nothing else went wrong.
        assert [p for p in problems if "status of 422" not in p] == []
    for path in written:
        assert path.stat().st_size > 10_000
        print(f"screenshot: {path}")
