"""What a customer does inside one app or web session, and what an order leads to."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from loopline.demo.catalog import (
    APP_RELEASES,
    CATEGORIES,
    CDN_ORIGIN,
    COUPONS,
    CURRENCY,
    LIBRARIES,
    PRODUCTS,
    SEARCH_TERMS,
    SHOP_NAME,
    WEB_ORIGIN,
    Product,
)
from loopline.demo.customers import Customer, Device, Order, app_context, loyalty_tier, network_context
from loopline.demo.window import DAY_MS, HOUR_MS, MINUTE_MS, Window

_SERVER_LIBRARY = {"name": LIBRARIES["server"][0], "version": LIBRARIES["server"][1]}
REFERRERS = {
    "google": "https://www.google.com/",
    "instagram": "https://l.instagram.com/",
    "facebook": "https://l.facebook.com/",
    "tiktok": "https://www.tiktok.com/",
    "pinterest": "https://www.pinterest.com/",
}
CANCEL_RATE = 0.05
# Returns arrive days after the order, so late orders' returns fall outside the
# window; the rate is set so that about 12% of the orders in the window see one.
RETURN_RATE = 0.15
MAX_CART_LINES = 6


def fresh(context: dict[str, Any]) -> dict[str, Any]:
    """Copy a context one level deep so every message owns its nested objects."""
    return {k: v.copy() if type(v) is dict else v for k, v in context.items()}


def _nested(context: dict[str, Any]) -> tuple[str, ...]:
    return tuple(k for k, v in context.items() if type(v) is dict)


def _money(value: float) -> float:
    # The epsilon keeps values such as 2.675 from rounding down through
    # binary representation error.
    return round(value + 1e-9, 2)


def _product_props(product: Product) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "sku": product.sku,
        "category": product.category,
        "name": product.name,
        "brand": product.brand,
        "variant": product.variant,
        "price": product.price,
        "url": f"{WEB_ORIGIN}/p/{product.slug}",
        "image_url": f"{CDN_ORIGIN}/img/{product.product_id}.jpg",
    }


@dataclass(slots=True)
class Visit:
    """The running state of one session: device, shared context, clock and referrer."""

    device: Device
    context: dict[str, Any]
    at: int
    referrer: str = ""
    search: str = ""
    # Keys of ``context`` holding objects, which each message gets its own copy of.
    nested: tuple[str, ...] = ()


class ShopActivity:
    """Emits messages and plays out sessions and order follow-ups for customers."""

    def __init__(self, rng: random.Random, window: Window) -> None:
        self.rng = rng
        self.window = window
        self.release_ms = [window.at(r.at) for r in APP_RELEASES]
        self.app_ctx = [app_context(r.version, r.build) for r in APP_RELEASES]
        self.product_props = [_product_props(p) for p in PRODUCTS]
        self.list_items = [
            {k: p[k] for k in ("product_id", "sku", "name", "category", "price")}
            for p in self.product_props
        ]
        self.index_of = {p.product_id: i for i, p in enumerate(PRODUCTS)}
        slugs = [c.slug for c in CATEGORIES]
        self.by_category: list[list[int]] = [[] for _ in CATEGORIES]
        for index, product in enumerate(PRODUCTS):
            self.by_category[slugs.index(product.category_slug)].append(index)
        # A few bestsellers per category draw most of the product views.
        self.popularity = [
            [1.0 / (rank + 1) ** 0.8 for rank in rng.sample(range(len(ids)), len(ids))]
            for ids in self.by_category
        ]

    # --- message emission ----------------------------------------------------

    def emit(self, c: Customer, v: Visit, message: dict[str, Any]) -> dict[str, Any]:
        """Record a device-side message with the visit's identity and context."""
        message["anonymousId"] = v.device.anonymous_id
        if v.device.identified:
            message["userId"] = c.user_id
        if not v.nested:
            v.nested = _nested(v.context)
        context = v.context.copy()
        for key in v.nested:
            context[key] = context[key].copy()
        message["context"] = context
        c.events.append((v.at, len(c.events), message))
        return context

    def track(self, c: Customer, v: Visit, event: str, properties: dict[str, Any]) -> None:
        """Record a device-side track call."""
        self.emit(c, v, {"type": "track", "messageId": "", "event": event, "properties": properties})

    def server(self, c: Customer, at: int, event: str, properties: dict[str, Any]) -> None:
        """Record a track call sent by the shop's backend, which knows only the userId."""
        message = {
            "type": "track",
            "messageId": "",
            "event": event,
            "userId": c.user_id,
            "properties": properties,
            "context": {"library": dict(_SERVER_LIBRARY)},
        }
        c.events.append((at, len(c.events), message))

    def view(self, c: Customer, v: Visit, name: str, path: str,
             extra: dict[str, Any] | None = None) -> None:
        """Record a screen call in the app, or a page call on the web."""
        properties: dict[str, Any] = {"name": name}
        if v.device.platform != "web":
            if extra:
                properties.update(extra)
            self.emit(c, v, {"type": "screen", "messageId": "", "name": name,
                             "properties": properties})
            return
        url = WEB_ORIGIN + path
        page = {"path": path, "referrer": v.referrer, "search": v.search,
                "title": f"{name} | {SHOP_NAME}", "url": url + v.search}
        properties.update(page)
        if extra:
            properties.update(extra)
        context = self.emit(c, v, {"type": "page", "messageId": "", "name": name,
                                   "properties": properties})
        context["page"] = page.copy()
        v.referrer, v.search = url, ""

    def identify(self, c: Customer, v: Visit, traits: dict[str, Any] | None = None) -> None:
        """Record an identify linking the device's anonymousId to the customer's userId."""
        if "createdAt" not in c.traits:
            c.traits["createdAt"] = self.window.iso(v.at)
        c.identified = v.device.identified = True
        self.emit(c, v, {"type": "identify", "messageId": "",
                         "traits": fresh(traits if traits is not None else c.traits)})

    def tick(self, v: Visit, low_s: int, high_s: int) -> None:
        """Advance the visit clock by a random pause between events."""
        # random() arithmetic instead of randint(): this runs for every event.
        v.at += low_s * 1000 + int(self.rng.random() * (high_s - low_s) * 1000)

    def soon(self, v: Visit) -> None:
        """Advance the clock by the few milliseconds between a view and its track call."""
        v.at += 60 + int(self.rng.random() * 340)

    # --- sessions ------------------------------------------------------------

    def session(self, c: Customer, d: Device, at: int, campaign: dict[str, str] | None,
                landing: tuple[str, str] | None = None) -> int:
        """Play one session from open to close and return when it ended."""
        rng = self.rng
        context = dict(d.static)
        if campaign is not None:
            context["campaign"] = campaign
        v = Visit(d, context, at)
        app = d.platform != "web"
        if app:
            context["network"], context["ip"] = network_context(rng, d)
            self._app_start(c, v, campaign)
        else:
            context["ip"] = d.home_ip
            if campaign is not None:
                v.referrer = REFERRERS.get(campaign["source"], "")
                v.search = (f"?utm_source={campaign['source']}&utm_medium={campaign['medium']}"
                            f"&utm_campaign={campaign['name']}&utm_content={campaign['content']}")
            elif rng.random() < 0.35:
                v.referrer = REFERRERS["google"]
        name, path = landing or ("Home", "/")
        self.view(c, v, name, path)
        if name == "Cart" and c.cart:
            self.soon(v)
            self.track(c, v, "Cart Viewed", {"cart_id": self._cart_id(c), "products": self._lines(c)})
        if d.reidentify:
            d.reidentify = False
            self.soon(v)
            self.identify(c, v)
        elif c.user_id is not None and not d.identified and (c.identified or rng.random() < 0.45):
            self.tick(v, 3, 20)
            self.view(c, v, "Login" if c.identified else "Sign Up",
                      "/account/login" if c.identified else "/account/register")
            self.tick(v, 10, 60)
            self.identify(c, v)
        persona = c.persona
        sale = self.window.in_sale(at)
        boost = 1.5 if sale and persona.name == "bargain_hunter" else 1.0
        added = False
        steps = 1 + min(11, int(rng.expovariate(1.0 / (persona.depth - 1.0))))
        for _ in range(steps):
            added = self._browse(c, v, boost) or added
        if c.cart:
            self._cart(c, v, added, boost, sale)
        if app:
            self.tick(v, 5, 60)
            self.track(c, v, "Application Backgrounded", {})
        return v.at

    def release_at(self, at: int) -> int:
        """Return the index of the newest app release out at that instant."""
        latest = 0
        for index, released in enumerate(self.release_ms):
            if released <= at:
                latest = index
        return latest

    def _app_start(self, c: Customer, v: Visit, campaign: dict[str, str] | None) -> None:
        d, rng = v.device, self.rng
        available = self.release_at(v.at)
        if not d.installed:
            d.installed, d.release = True, available
            v.context["app"] = self.app_ctx[d.release]
            release = APP_RELEASES[d.release]
            self.track(c, v, "Application Installed", {"version": release.version,
                                                       "build": release.build})
            if campaign is not None:
                self.soon(v)
                self.track(c, v, "Install Attributed",
                           {"provider": "Attribution Partner", "campaign": dict(campaign)})
            from_background = False
        else:
            if d.release < available and rng.random() < 0.6:
                previous, d.release = APP_RELEASES[d.release], available
                v.context["app"] = self.app_ctx[d.release]
                self.track(c, v, "Application Updated", {
                    "previous_version": previous.version, "previous_build": previous.build,
                    "version": APP_RELEASES[d.release].version,
                    "build": APP_RELEASES[d.release].build,
                })
                self.soon(v)
            v.context["app"] = self.app_ctx[d.release]
            from_background = rng.random() < 0.35
        self.soon(v)
        release = APP_RELEASES[d.release]
        self.track(c, v, "Application Opened", {"from_background": from_background,
                                                "version": release.version,
                                                "build": release.build})
        self.soon(v)

    def _category(self, c: Customer) -> int:
        if self.rng.random() < 0.7:
            return self.rng.choice(c.favourites)
        return self.rng.randrange(len(CATEGORIES))

    def _listing(self, category: int, size: int) -> list[dict[str, Any]]:
        ids = self.rng.sample(self.by_category[category], size)
        return [{**self.list_items[i], "position": pos} for pos, i in enumerate(ids, 1)]

    def _browse(self, c: Customer, v: Visit, boost: float) -> bool:
        rng = self.rng
        category = self._category(c)
        slug, title = CATEGORIES[category].slug, CATEGORIES[category].title
        roll = rng.random()
        if roll < 0.2:
            query = rng.choice(SEARCH_TERMS[slug])
            self.tick(v, 3, 15)
            self.track(c, v, "Products Searched", {"query": query})
            self.soon(v)
            self.view(c, v, "Search Results", "/search", {"query": query})
            self.soon(v)
            self.track(c, v, "Product List Viewed", {"list_id": "search_results", "category": title,
                                                     "products": self._listing(category, 6)})
        elif roll < 0.55:
            self.tick(v, 3, 20)
            self.view(c, v, "Category", f"/c/{slug}", {"category": title})
            self.soon(v)
            self.track(c, v, "Product List Viewed", {"list_id": f"category_{slug}",
                                                     "category": title,
                                                     "products": self._listing(category, 8)})
        self.tick(v, 4, 30)
        ids = self.by_category[category]
        index = rng.choices(ids, self.popularity[category])[0]
        product, props = PRODUCTS[index], self.product_props[index]
        self.view(c, v, "Product", f"/p/{product.slug}",
                  {"product_id": product.product_id, "category": title})
        self.soon(v)
        self.track(c, v, "Product Viewed", {**props, "currency": CURRENCY})
        self.tick(v, 8, 90)
        if rng.random() >= c.persona.add_rate * boost:
            return False
        quantity = 1 if rng.random() < 0.9 else 2
        self.track(c, v, "Product Added", {"cart_id": self._cart_id(c), **props,
                                           "quantity": quantity, "currency": CURRENCY})
        if len(c.cart) >= MAX_CART_LINES:
            c.cart.pop(0)
        c.cart.append((product, quantity))
        return True

    def _lines(self, c: Customer) -> list[dict[str, Any]]:
        return [{**self.list_items[self.index_of[p.product_id]], "quantity": q} for p, q in c.cart]

    def _cart_id(self, c: Customer) -> str:
        return f"cart-{c.number:05d}-{c.cart_number:03d}"

    def _cart(self, c: Customer, v: Visit, added: bool, boost: float, sale: bool) -> None:
        rng, persona = self.rng, c.persona
        if rng.random() >= (0.7 if added else 0.3):
            return
        self.tick(v, 3, 20)
        self.view(c, v, "Cart", "/cart")
        self.soon(v)
        self.track(c, v, "Cart Viewed", {"cart_id": self._cart_id(c), "products": self._lines(c)})
        if c.user_id is None or rng.random() >= persona.checkout_rate * boost:
            return
        if not v.device.identified:
            # The shop requires an account to check out.
            self.tick(v, 3, 15)
            self.view(c, v, "Login", "/account/login")
            self.tick(v, 15, 60)
            self.identify(c, v)
        c.checkout_count += 1
        order, properties = self._order(c, v, self._coupon(c, v, sale))
        self.tick(v, 5, 30)
        self.view(c, v, "Checkout", "/checkout")
        self.soon(v)
        started = {"order_id": order.order_id, "value": properties["subtotal"],
                   **{key: value for key, value in properties.items() if key != "order_id"},
                   "products": [dict(line) for line in properties["products"]]}
        self.track(c, v, "Checkout Started", started)
        self.tick(v, 40, 300)
        if rng.random() >= persona.complete_rate:
            return
        self.track(c, v, "Order Completed", properties)
        self.soon(v)
        self.view(c, v, "Order Confirmation", "/checkout/confirmation",
                  {"order_id": order.order_id})
        c.cart = []
        c.cart_number += 1
        c.cart_reminded = False
        c.orders += 1
        tier = loyalty_tier(c.orders)
        if tier != c.traits["loyalty_tier"]:
            c.traits["loyalty_tier"] = tier
            self.soon(v)
            self.identify(c, v, {"loyalty_tier": tier})
        self._after_order(c, v.at, order)

    def _coupon(self, c: Customer, v: Visit, sale: bool) -> str | None:
        rng = self.rng
        if rng.random() >= c.persona.coupon_rate:
            return None
        if c.orders == 0:
            return "WELCOME10"
        if sale:
            return rng.choice(("SALE20", "FLASH30"))
        if c.traits["loyalty_tier"] in {"gold", "platinum"}:
            return "LOYAL25"
        return "APP15" if v.device.platform != "web" else None

    def _order(self, c: Customer, v: Visit, coupon: str | None) -> tuple[Order, dict[str, Any]]:
        merged: dict[str, tuple[Product, int]] = {}
        for product, quantity in c.cart:
            held = merged.get(product.product_id)
            merged[product.product_id] = (product, quantity + (held[1] if held else 0))
        lines = list(merged.values())
        subtotal = _money(sum(p.price * q for p, q in lines))
        rate = COUPONS[coupon] if coupon else 0.0
        discount = _money(subtotal * rate)
        net = subtotal - discount
        shipping = 0.0 if net >= 50 else 4.95
        # Shop prices include VAT; the tax share is carved out of the net amount.
        vat = c.country.vat
        tax = _money(net * vat / (1 + vat))
        order = Order(f"AN{c.number:05d}-{c.checkout_count:03d}", _money(net + shipping), lines, rate)
        products = [
            {**self.product_props[self.index_of[p.product_id]], "quantity": q, "position": pos}
            for pos, (p, q) in enumerate(lines, 1)
        ]
        properties: dict[str, Any] = {
            "order_id": order.order_id,
            "affiliation": f"{SHOP_NAME} {'Web' if v.device.platform == 'web' else 'App'}",
            "subtotal": subtotal,
            "total": order.total,
            "revenue": _money(net - tax),
            "shipping": shipping,
            "tax": tax,
            "discount": discount,
            "currency": CURRENCY,
            "products": products,
        }
        if coupon:
            properties["coupon"] = coupon
        return order, properties

    def _after_order(self, c: Customer, at: int, order: Order) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < CANCEL_RATE:
            cancelled = at + rng.randint(5 * MINUTE_MS, 20 * HOUR_MS)
            self.server(c, cancelled, "Order Cancelled", {
                "order_id": order.order_id, "total": order.total, "currency": CURRENCY,
                "reason": rng.choice(("changed_mind", "ordered_wrong_size", "delivery_too_slow")),
            })
            return
        if roll >= CANCEL_RATE + RETURN_RATE * c.persona.return_factor:
            return
        returned_at = at + rng.randint(4, 21) * DAY_MS + rng.randrange(10 * HOUR_MS)
        lines = order.lines
        if len(lines) > 1 and rng.random() < 0.55:
            lines = rng.sample(lines, rng.randint(1, len(lines) - 1))
        refund = 0.0
        returned: list[dict[str, Any]] = []
        for offset, (product, quantity) in enumerate(lines):
            item = {"product_id": product.product_id, "sku": product.sku, "name": product.name,
                    "category": product.category, "price": product.price, "quantity": quantity}
            returned.append(item)
            refund += product.price * quantity
            self.server(c, returned_at + offset * 1000, "Product Returned", {
                "order_id": order.order_id, **item, "currency": CURRENCY,
                "reason": rng.choice(("too_small", "too_large", "not_as_pictured", "quality",
                                      "changed_mind")),
            })
        refunded_at = returned_at + rng.randint(1, 3) * DAY_MS
        self.server(c, refunded_at, "Order Refunded", {
            "order_id": order.order_id,
            "total": min(order.total, _money(refund * (1 - order.discount_rate))),
            "currency": CURRENCY,
            "products": returned,
        })
