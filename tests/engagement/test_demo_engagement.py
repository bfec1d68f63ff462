"""The demo workspace comes with its policy, opt-ins and the template journeys, active and working."""

from __future__ import annotations

from datetime import UTC, datetime

from loopline.actions.journeys import JourneyEngine
from loopline.actions.media_buys import media_buy_results
from loopline.bootstrap import build_runtime
from loopline.cli.demo import seed_demo
from loopline.config import Settings
from loopline.demo.generator import DemoPlan
from tests.conftest import GENEROUS


def test_the_demo_seeds_active_template_journeys_that_act_on_new_events(tmp_path):
    runtime = build_runtime(Settings(data_dir=tmp_path, **GENEROUS))
    runtime.writer.start()
    try:
        keys = seed_demo(runtime, DemoPlan(customers=40, days=7, end=datetime(2026, 6, 15, tzinfo=UTC)))
        services, workspace = runtime.services, keys["id"]
        journeys = services.journeys.in_workspace(workspace_id=workspace)
        assert sorted(j.name for j in journeys) == [
            "Cart abandonment with an incentive", "Classified ad expiring", "Low-balance service alert",
            "Product recall notice", "Welcome series", "Win-back after inactivity"]
        assert {j.status for j in journeys} == {"active"}
        # The paid campaigns the generator simulated are media buys, measured from their tagged visits.
        buys = services.media_buys.in_workspace(workspace_id=workspace)
        assert sorted(b.name for b in buys) == [
            "brand_search (google)", "cart_retargeting (facebook)", "cashback_partners (partner_network)",
            "generic_dresses (google)", "knitwear_edit (pinterest)", "new_season_drop (instagram)",
            "pmax_catalogue (google)", "sneaker_week (tiktok)"]
        results = [media_buy_results(services, workspace_id=workspace, media_buy_id=b.id) for b in buys]
        assert sum(r["responses"] for r in results) > 0
        for found in results:
            assert found["people_reached"] <= found["responses"]
            assert found["converted"] <= found["people_reached"]
            assert found["costs"]["cost"] >= found["responses"] * 0.12
        customer = next(p for p in services.lookups.list_profiles(workspace_id=workspace, limit=100).items
                        if p.traits.get("email"))
        user_id = dict(services.lookups.list_identities(workspace_id=workspace, profile_id=customer.profile_id))[
            "user_id"]
        runtime.pipeline.record_platform_events(workspace_id=workspace, source="test", messages=[
            {"type": "track", "userId": user_id, "event": "Balance Updated",
             "properties": {"balance": 3}}])
        runtime.projector.catch_up()
        engine = JourneyEngine(services, runtime.pipeline)
        while engine.process_events().events:
            pass
        (alert,) = services.sandbox.list_outbox(workspace_id=workspace)
        assert alert["profile_id"] == customer.profile_id
        assert "3" in alert["body"]

        # A recall of a product someone ordered in the demo reaches that buyer.
        orders = [r for r in services.events.read_after(0, limit=100_000)
                  if r.workspace_id == workspace and r.event == "Order Completed"]
        product = orders[0].properties["products"][0]["product_id"]
        runtime.pipeline.record_platform_events(workspace_id=workspace, source="test", messages=[
            {"type": "track", "anonymousId": "back-office", "event": "Product Recalled",
             "properties": {"product_id": product, "name": "Demo kettle"}}])
        runtime.projector.catch_up()
        while engine.process_events().events:
            pass
        notices = [m for m in services.sandbox.list_outbox(workspace_id=workspace) if "Demo kettle" in m["body"]]
        assert notices
        assert len({m["profile_id"] for m in notices}) == len(notices)
    finally:
        runtime.stop()
