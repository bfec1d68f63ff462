"""What web pages running Segment's analytics.js 2.0 need from Loopline to send it their events.

The library starts by fetching a settings document from its CDN, which names the API host
that events go to. Loopline serves that document itself, naming its own tracking API, and
serves the library's files (vendored, `static/vendor/analytics-next`), so a site changes
one option, ``cdnURL``, to move from Segment to Loopline. The library then posts events
to the short paths (``/v1/t``, ``/v1/p`` …) that the tracking API also answers.
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.staticfiles import StaticFiles

from loopline.api.auth import authenticate_write_key
from loopline.api.errors import ERROR_SCHEMA, JsonResponse

router = APIRouter(tags=["ingest"])
# Where analytics.js loads its lazily imported chunks from: ``{cdnURL}/analytics-next/bundles/``.
BUNDLES_PATH = "/analytics-next/bundles"
BUNDLES = resources.files("loopline.api") / "static" / "vendor" / "analytics-next"


def _api_base(request: Request) -> tuple[str, str]:
    """Return the protocol and ``host[:port]`` the library should post to: the public URL when set."""
    public = request.app.state.runtime.services.settings.public_url
    address = urlsplit(public) if public else urlsplit(str(request.base_url))
    return address.scheme or "https", address.netloc + address.path.rstrip("/")


def settings_document(*, write_key: str, protocol: str, host: str) -> dict[str, Any]:
    """Return analytics.js's settings: every event to this server, no destinations, no remote code."""
    return {
        "integrations": {"Segment.io": {
            "apiKey": write_key, "apiHost": f"{host}/v1", "protocol": protocol,
            "unbundledIntegrations": [], "addBundledMetadata": True, "maybeBundledConfigIds": {},
        }},
        "plan": {"track": {"__default": {"enabled": True, "integrations": {}}},
                 "identify": {"__default": {"enabled": True}}, "group": {"__default": {"enabled": True}}},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        # The library reports its own health to the API host unless told not to; Loopline has no use for it.
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


@router.get("/v1/projects/{write_key}/settings", responses={
    200: {"description": "The settings analytics.js loads before sending anything."},
    401: {"description": "No workspace has this write key.", **ERROR_SCHEMA},
    429: {"description": "Too many unknown keys from this client.", **ERROR_SCHEMA},
})
def analytics_js_settings(request: Request, write_key: str) -> JsonResponse:
    """Serve the settings document analytics.js 2.0 reads at start, pointing it at this server's tracking API."""
    authenticate_write_key(request, write_key)
    protocol, host = _api_base(request)
    return JsonResponse(settings_document(write_key=write_key, protocol=protocol, host=host),
                        headers={"Cache-Control": "public, max-age=300"})


def bundles() -> StaticFiles:
    """Return the vendored library's files, to be mounted at ``BUNDLES_PATH``."""
    return StaticFiles(directory=str(BUNDLES))
