"""Smart deep links: a workspace's apps, who is clicking (a person's browser or a machine), and where they go.

One link serves every device. A desktop browser goes to the web page. On a phone whose app
is installed, the operating system opens the app itself (universal links on iOS, app links on
Android, declared in the ``.well-known`` documents built here), so the server sees a phone only
when the app is missing or the OS did not step in (an in-app browser, a link opened through
another redirect): it answers a small page that tries the app's own scheme and otherwise
goes to the store, or to the mobile web page. Machines — crawlers, link previews, mail
security scanners, command-line tools — are sent to the web page too (the link must work for
them), and their visits are flagged so they never count as engagement.

The user agent is parsed by the caller (``ua-parser``); this module decides from its parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from loopline.domain.campaigns import CampaignInvalid
from loopline.domain.links import UNSAFE_SCHEMES, WEB_SCHEMES, web_link_problem
from loopline.domain.segments.definition import problems_of, unstorable_text

HOSTNAME = r"^(?=.{1,253}$)([a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
LINK_PATHS = "/l/*"  # what the apps may open: tracked links only (not the open pixel, not unsubscribe pages)
PLAY_STORE = "https://play.google.com/store/apps/details"
CLICK_PARAM = "ll_click"  # the deferred click's id, in the Play Store's install referrer

Platform = Literal["ios", "android", "other"]
DeviceKind = Literal["desktop", "phone", "tablet", "bot", "unknown"]
RouteKind = Literal["web", "app", "bot"]


def _https(url: str) -> str:
    if not url.lower().startswith("https://") or web_link_problem(url):
        raise ValueError("must be a plain https:// address")
    return url


HttpsUrl = Annotated[str, Field(max_length=2_000), AfterValidator(_https)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IosApp(_Model):
    """The iOS app: its App ID (team id and bundle id) for universal links, and its App Store page."""

    team_id: str = Field(pattern=r"^[A-Z0-9]{10}$")
    bundle_id: str = Field(max_length=155, pattern=r"^[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")
    app_store_url: HttpsUrl | None = None

    @property
    def app_id(self) -> str:
        """Return the App ID Apple's association file names."""
        return f"{self.team_id}.{self.bundle_id}"


class AndroidApp(_Model):
    """The Android app: its package and signing certificates for app links, and its Play Store page."""

    package: str = Field(max_length=150, pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
    sha256_cert_fingerprints: list[Annotated[str, Field(pattern=r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")]] = Field(
        min_length=1, max_length=10)
    play_store_url: HttpsUrl | None = None

    def store_url(self, click_id: str | None) -> str:
        """Return the Play Store page, carrying the click in the install referrer (read by the app on first open)."""
        base = self.play_store_url or f"{PLAY_STORE}?id={self.package}"
        if click_id is None:
            return base
        separator = "&" if "?" in base else "?"
        return f"{base}{separator}referrer={quote(f'{CLICK_PARAM}={click_id}', safe='')}"


def _scheme(value: str) -> str:
    if value in WEB_SCHEMES or value in UNSAFE_SCHEMES:
        raise ValueError(f"{value} cannot be an app's scheme")
    return value


def _hostname(value: str) -> str:
    value = value.lower()
    if not re.fullmatch(HOSTNAME, value):
        raise ValueError("must be a host name, like shop.example")
    return value


Hostname = Annotated[str, Field(max_length=253), AfterValidator(_hostname)]


class LinkSettings(_Model):
    """How a workspace's links are written and where they lead (``PUT /api/v1/link-settings``)."""

    track_clicks: bool = True
    track_opens: bool = True
    utm: bool = True
    send_key_param: bool = False
    link_domain: Hostname | None = None
    web_domains: list[Hostname] = Field(default_factory=list, max_length=20)
    scheme: Annotated[str, Field(pattern=r"^[a-z][a-z0-9+.\-]{1,31}$"), AfterValidator(_scheme)] | None = None
    ios: IosApp | None = None
    android: AndroidApp | None = None
    no_app: Literal["store", "web"] = "store"

    @field_validator("web_domains")
    @classmethod
    def _unique(cls, domains: list[str]) -> list[str]:
        return sorted(set(domains))


def parse_link_settings(data: Any) -> LinkSettings:
    """Validate a link settings document; raise CampaignInvalid naming each problem and where."""
    if problems := unstorable_text(data):
        raise CampaignInvalid(problems)
    try:
        return LinkSettings.model_validate(data)
    except ValidationError as error:
        raise CampaignInvalid(problems_of(error)) from None


# --- The .well-known documents -----------------------------------------------------------------------------------


def apple_app_site_association(apps: list[LinkSettings]) -> dict[str, Any]:
    """Return the apple-app-site-association document: each iOS app may open the tracked links."""
    ids = sorted({settings.ios.app_id for settings in apps if settings.ios is not None})
    return {"applinks": {"details": [{"appIDs": ids, "components": [{"/": LINK_PATHS}]}] if ids else []}}


def asset_links(apps: list[LinkSettings]) -> list[dict[str, Any]]:
    """Return the Digital Asset Links statements (assetlinks.json): each Android app may handle the links."""
    targets = sorted({(s.android.package, tuple(s.android.sha256_cert_fingerprints)) for s in apps if s.android})
    return [{"relation": ["delegate_permission/common.handle_all_urls"],
             "target": {"namespace": "android_app", "package_name": package,
                        "sha256_cert_fingerprints": list(fingerprints)}}
            for package, fingerprints in targets]


# --- Who clicks ---------------------------------------------------------------------------------------------------

# Parts of user agents of machines ua-parser does not call spiders: Office's link checks, mail
# security gateways, headless browsers, HTTP libraries and command-line tools. Matched ignoring case.
SCANNERS = ("microsoft office existence discovery", "ms-office", "msoffice", "bingpreview", "barracuda",
            "mimecast", "proofpoint", "safelinks", "headlesschrome", "phantomjs")
TOOLS = ("curl/", "wget/", "python-requests", "python-urllib", "python-httpx", "aiohttp", "go-http-client",
         "java/", "libwww-perl", "apache-httpclient", "node-fetch", "axios/", "okhttp/", "httpie/")
# Mail providers fetch images through these when the reader opens the message: an open, not a machine.
IMAGE_PROXIES = ("googleimageproxy", "yahoomailproxy")
DESKTOP_OS = frozenset({"windows", "mac os x", "linux", "ubuntu", "chrome os", "fedora", "debian", "freebsd",
                        "openbsd", "netbsd", "red hat", "suse", "mint", "arch linux"})
IN_APP_BROWSERS = frozenset({"facebook", "instagram", "line", "snapchat", "tiktok", "twitter", "pinterest",
                             "linkedin", "google", "wechat", "kakaotalk"})


@dataclass(frozen=True, slots=True)
class UserAgent:
    """The parts of a parsed user agent a route depends on (as ua-parser names them)."""

    text: str
    browser: str | None = None
    os: str | None = None
    os_major: str | None = None
    os_minor: str | None = None
    device: str | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """Who is asking: a kind of device on a platform, or a machine (``bot_reason`` says which)."""

    kind: DeviceKind
    platform: Platform
    os_version: str = ""
    browser: str = ""
    in_app_browser: bool = False
    bot_reason: str = ""

    @property
    def bot(self) -> bool:
        """Return whether a machine is asking."""
        return self.kind == "bot"


def classify(agent: UserAgent, *, method: str = "GET", opening: bool = False) -> Device:
    """Return who sent a request: a desktop, phone or tablet browser, or a machine.

    ``opening``: the request fetches the open pixel, where a mail provider's image proxy
    stands for the reader opening the message (Gmail, Yahoo); a bare ``Mozilla/5.0`` is
    Apple Mail Privacy Protection loading every image whether the mail is read or not.
    """
    text = agent.text.strip()
    lowered = text.lower()
    proxy = any(name in lowered for name in IMAGE_PROXIES)
    if opening and proxy:
        return Device("unknown", "other", browser=agent.browser or "")
    checks = (
        (method.upper() == "HEAD", "head_request"),
        (not text, "no_user_agent"),
        (text == "Mozilla/5.0", "privacy_proxy" if opening else "no_details"),
        (proxy, "image_proxy"),
        (agent.device == "Spider", "crawler"),
        (any(part in lowered for part in SCANNERS), "scanner"),
        (any(part in lowered for part in TOOLS), "tool"),
    )
    reason = next((reason for hit, reason in checks if hit), None)
    if reason is not None:
        return Device("bot", "other", browser=agent.browser or "", bot_reason=reason)
    return _person(agent, lowered)


def _person(agent: UserAgent, lowered: str) -> Device:
    os_name = (agent.os or "").lower()
    version = ".".join(part for part in (agent.os_major, agent.os_minor) if part and part.isdigit())
    browser = agent.browser or ""
    in_app = browser.lower() in IN_APP_BROWSERS or "; wv)" in lowered
    if os_name in ("ios", "ipados"):
        kind: DeviceKind = "tablet" if (agent.device or "").startswith("iPad") else "phone"
        return Device(kind, "ios", version, browser, in_app)
    if os_name == "android":
        kind = "phone" if "mobile" in lowered else "tablet"
        return Device(kind, "android", version, browser, in_app)
    if os_name in DESKTOP_OS:
        # An iPad asks for desktop pages with a Mac's user agent: it gets the web page, where
        # the app (when installed) has already taken the link as a universal link.
        return Device("desktop", "other", version, browser, in_app)
    return Device("unknown", "other", version, browser, in_app)


# --- Where a click goes -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """Where one click goes: the web page (``url``), or the app page that tries ``app_url`` then ``fallback_url``."""

    kind: RouteKind
    url: str
    app_url: str | None = None
    fallback_url: str | None = None
    to_store: bool = False  # the fallback is the store: a first open of the app may claim the click

    @property
    def redirect(self) -> bool:
        """Return whether the answer is a plain redirect to ``url``."""
        return self.kind != "app"


def route_click(device: Device, settings: LinkSettings, *, destination: str, screen: str | None,
                click_id: str | None = None) -> Route:
    """Return where a click goes: a machine or a desktop to the stored web page; a phone or tablet with an app
    configured for its platform, on a link into the app (``screen``), to the app page."""
    if device.bot:
        return Route("bot", destination)
    if screen is None or device.kind not in ("phone", "tablet"):
        return Route("web", destination)
    scheme = settings.scheme
    if device.platform == "ios" and settings.ios is not None:
        store = settings.ios.app_store_url if settings.no_app == "store" else None
        fallback = store or destination
        app_url = f"{scheme}://{screen}" if scheme else None
        return Route("app", destination, app_url, fallback, to_store=store is not None)
    if device.platform == "android" and settings.android is not None:
        android = settings.android
        store = android.store_url(click_id) if settings.no_app == "store" else None
        fallback = store or destination
        app_url = None
        if scheme:
            # Chrome and Samsung Internet open an intent: URL's app, or go to its fallback by themselves.
            path, _, query = screen.partition("?")
            target = path + (f"?{query}" if query else "")
            app_url = (f"intent://{target}#Intent;scheme={scheme};package={android.package};"
                       f"S.browser_fallback_url={quote(fallback, safe='')};end")
        return Route("app", destination, app_url, fallback, to_store=store is not None)
    return Route("web", destination)


def click_of_referrer(referrer: str | None) -> str | None:
    """Return the click id an Android install referrer carries (``ll_click=…``), if any."""
    if not referrer:
        return None
    for part in referrer.replace("?", "&").split("&"):
        name, _, value = part.partition("=")
        if name == CLICK_PARAM and re.fullmatch(r"[A-Za-z0-9_\-]{8,64}", value):
            return value
    return None


def version_prefixes(version: str | None) -> list[str]:
    """Return the OS versions a click may have been recorded with for an app reporting ``version``
    (``17.5.1`` → ``17``, ``17.5``, ``17.5.1``); empty when the app did not say."""
    parts = [part for part in re.split(r"[._]", version or "") if part.isdigit()][:3]
    return [".".join(parts[: count + 1]) for count in range(len(parts))]
