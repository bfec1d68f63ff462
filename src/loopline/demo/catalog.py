"""Static reference data for the demo shop: products, devices, releases and campaigns."""

from __future__ import annotations

import re
from dataclasses import dataclass

SHOP_NAME = "Atelier Nord"
APP_NAMESPACE = "com.ateliernord.shop"
# Reserved .example domains: demo links, images and mail addresses can never
# reach a real site or a real inbox.
WEB_ORIGIN = "https://www.ateliernord.example"
CDN_ORIGIN = "https://cdn.ateliernord.example"
MAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org", "mail.example")
CURRENCY = "EUR"


@dataclass(frozen=True, slots=True)
class Category:
    """A shop category: URL slug, display title and SKU code."""

    slug: str
    title: str
    code: str


@dataclass(frozen=True, slots=True)
class Product:
    """One sellable product with a fixed EUR price."""

    product_id: str
    sku: str
    name: str
    category: str
    category_slug: str
    brand: str
    variant: str
    price: float
    slug: str


CATEGORIES: tuple[Category, ...] = (
    Category("dresses", "Dresses", "DRS"),
    Category("jeans", "Jeans", "JNS"),
    Category("shirts", "Shirts & Blouses", "SHT"),
    Category("shoes", "Shoes", "SHO"),
    Category("sneakers", "Sneakers", "SNK"),
    Category("jackets", "Jackets & Coats", "JKT"),
    Category("knitwear", "Knitwear", "KNT"),
    Category("accessories", "Accessories", "ACC"),
    Category("bags", "Bags", "BAG"),
    Category("sportswear", "Sportswear", "SPT"),
)

_BRANDS: dict[str, tuple[str, ...]] = {
    "dresses": ("Atelier Nord", "Maison Lune", "Solenne"),
    "jeans": ("Nord Denim", "Atelier Nord", "Indaco & Co"),
    "shirts": ("Atelier Nord", "Maison Lune", "Harbour Line"),
    "shoes": ("Calzo Fino", "Atelier Nord", "Brogue & Hide"),
    "sneakers": ("Kestrel Athletic", "Court Club", "Atelier Nord"),
    "jackets": ("Fjell & Co", "Atelier Nord", "Harbour Line"),
    "knitwear": ("Atelier Nord", "Fjell & Co", "Loomhouse"),
    "accessories": ("Atelier Nord", "Solenne", "Brogue & Hide"),
    "bags": ("Maison Lune", "Atelier Nord", "Calzo Fino"),
    "sportswear": ("Kestrel Athletic", "Atelier Nord", "Court Club"),
}

# (name, price in EUR, colour) per category slug, twelve each.
_PRODUCT_DATA: dict[str, tuple[tuple[str, float, str], ...]] = {
    "dresses": (
        ("Linen Wrap Midi Dress", 79.95, "sage"), ("Satin Slip Dress", 89.95, "champagne"),
        ("Tiered Poplin Maxi Dress", 99.0, "white"), ("Ribbed Knit Bodycon Dress", 49.95, "black"),
        ("Floral Tea Dress", 69.95, "navy floral"), ("Pleated Shirt Dress", 74.95, "stone"),
        ("Smocked Cotton Sundress", 39.95, "terracotta"), ("Tailored Blazer Dress", 119.0, "black"),
        ("Broderie Anglaise Mini Dress", 59.95, "ivory"), ("Jersey T-Shirt Dress", 29.95, "heather grey"),
        ("Velvet Evening Gown", 169.0, "emerald"), ("Denim Pinafore Dress", 54.95, "mid blue"),
    ),
    "jeans": (
        ("Straight Leg High-Rise Jeans", 69.95, "mid blue"),
        ("Slim Tapered Stretch Jeans", 59.95, "dark indigo"),
        ("Wide Leg Dad Jeans", 79.95, "light wash"), ("Skinny Sculpt Jeans", 49.95, "black"),
        ("Relaxed Carpenter Jeans", 74.95, "ecru"), ("Bootcut Flare Jeans", 64.95, "vintage blue"),
        ("Selvedge Regular Fit Jeans", 129.0, "raw indigo"), ("Mom Fit Ripped Jeans", 54.95, "bleached"),
        ("Cropped Kick Flare Jeans", 59.95, "stone wash"), ("Loose Baggy Jeans", 69.95, "washed black"),
        ("Denim Bermuda Shorts", 39.95, "light blue"), ("Organic Cotton Slim Jeans", 79.95, "rinse"),
    ),
    "shirts": (
        ("Oxford Button-Down Shirt", 44.95, "pale blue"), ("Oversized Poplin Shirt", 39.95, "white"),
        ("Linen Camp Collar Shirt", 49.95, "olive"), ("Silk Bow Blouse", 89.95, "blush"),
        ("Flannel Check Overshirt", 59.95, "red check"), ("Slim Stretch Dress Shirt", 49.95, "white"),
        ("Broderie Puff Sleeve Blouse", 45.95, "white"), ("Denim Western Shirt", 54.95, "mid blue"),
        ("Striped Breton Top", 29.95, "navy/ecru"), ("Organic Cotton Crew Tee", 17.95, "black"),
        ("Cuban Print Resort Shirt", 42.95, "palm print"), ("Satin Wrap Blouse", 49.95, "cobalt"),
    ),
    "shoes": (
        ("Leather Chelsea Boots", 129.0, "black"), ("Suede Penny Loafers", 99.95, "tan"),
        ("Block Heel Mary Janes", 89.95, "burgundy"), ("Pointed Slingback Pumps", 79.95, "nude"),
        ("Leather Derby Shoes", 119.0, "dark brown"), ("Strappy Heeled Sandals", 69.95, "gold"),
        ("Lug Sole Combat Boots", 139.0, "black"), ("Espadrille Wedges", 49.95, "natural"),
        ("Knee-High Riding Boots", 189.0, "cognac"), ("Patent Ballet Flats", 59.95, "black"),
        ("Moulded Slide Sandals", 34.95, "white"), ("Western Ankle Boots", 149.0, "taupe"),
    ),
    "sneakers": (
        ("Court Classic Leather Sneakers", 89.95, "white"),
        ("Retro Runner Suede Sneakers", 94.95, "grey/navy"),
        ("Canvas Low-Top Sneakers", 49.95, "off-white"), ("Chunky Platform Sneakers", 99.95, "white/silver"),
        ("Knit Slip-On Sneakers", 69.95, "black"), ("High-Top Basketball Sneakers", 119.0, "white/red"),
        ("Trail Running Shoes", 129.0, "forest green"), ("Minimal Leather Sneakers", 139.0, "white"),
        ("Recycled Mesh Runners", 84.95, "lilac"), ("Skate Suede Sneakers", 74.95, "black/gum"),
        ("Court Strap Sneakers", 64.95, "white/green"), ("Lightweight Road Runners", 109.0, "neon coral"),
    ),
    "jackets": (
        ("Wool Blend Overcoat", 199.0, "camel"), ("Classic Trench Coat", 179.0, "beige"),
        ("Cropped Denim Jacket", 69.95, "light wash"), ("Quilted Puffer Jacket", 129.0, "black"),
        ("Faux Leather Biker Jacket", 89.95, "black"), ("Waxed Cotton Field Jacket", 159.0, "olive"),
        ("Teddy Fleece Jacket", 79.95, "cream"), ("Packable Rain Parka", 99.95, "navy"),
        ("Single-Breasted Blazer", 119.0, "charcoal"), ("Suede Bomber Jacket", 229.0, "chocolate"),
        ("Longline Down Coat", 249.0, "black"), ("Corduroy Shacket", 74.95, "rust"),
    ),
    "knitwear": (
        ("Merino Crew Neck Jumper", 69.95, "navy"), ("Chunky Cable Knit Cardigan", 89.95, "oatmeal"),
        ("Cashmere V-Neck Sweater", 149.0, "camel"), ("Ribbed Turtleneck", 49.95, "black"),
        ("Fair Isle Wool Jumper", 84.95, "multi"), ("Cropped Mohair Blend Cardigan", 64.95, "lavender"),
        ("Cotton Knit Polo", 54.95, "ecru"), ("Oversized Roll Neck Sweater", 74.95, "forest"),
        ("Lambswool Quarter-Zip", 79.95, "grey melange"), ("Knitted Sweater Vest", 39.95, "brown"),
        ("Alpaca Blend Sweater", 99.95, "rose"), ("Fine Gauge Knit Tee", 34.95, "white"),
    ),
    "accessories": (
        ("Wool Blend Check Scarf", 34.95, "grey check"), ("Leather Belt", 39.95, "brown"),
        ("Ribbed Beanie", 19.95, "mustard"), ("Aviator Sunglasses", 49.95, "gold/green"),
        ("Silk Print Bandana", 24.95, "paisley"), ("Gold-Tone Hoop Earrings", 22.95, "gold"),
        ("Washed Cotton Cap", 24.95, "navy"), ("Lined Leather Gloves", 49.95, "black"),
        ("Minimalist Mesh Watch", 129.0, "silver"), ("Sports Socks 3-Pack", 14.95, "white"),
        ("Pearl Hair Clip Set", 12.95, "pearl"), ("Curb Chain Necklace", 29.95, "silver"),
    ),
    "bags": (
        ("Leather Tote Bag", 149.0, "cognac"), ("Mini Crossbody Bag", 59.95, "black"),
        ("Canvas Shopper", 29.95, "natural"), ("Quilted Shoulder Bag", 89.95, "cream"),
        ("Nylon Belt Bag", 34.95, "black"), ("Roll-Top Backpack", 79.95, "olive"),
        ("Woven Straw Basket Bag", 49.95, "natural"), ("Structured Top Handle Bag", 119.0, "burgundy"),
        ("Weekender Holdall", 139.0, "navy"), ("Leather Card Holder", 24.95, "tan"),
        ("Felt Laptop Sleeve", 39.95, "grey"), ("Croc-Effect Clutch", 54.95, "green"),
    ),
    "sportswear": (
        ("High-Waist Training Leggings", 49.95, "black"), ("Seamless Sports Bra", 34.95, "sage"),
        ("Lined Running Shorts", 29.95, "navy"), ("Half-Zip Running Top", 54.95, "coral"),
        ("Yoga Flow Tank", 27.95, "lilac"), ("Tech Fleece Joggers", 69.95, "charcoal"),
        ("Windproof Running Jacket", 89.95, "black"), ("Padded Cycling Shorts", 79.95, "black"),
        ("Performance Crew Tee", 24.95, "electric blue"), ("Cropped Hoodie", 54.95, "dusty pink"),
        ("Thermal Base Layer", 44.95, "black"), ("Pleated Tennis Skirt", 39.95, "white"),
    ),
}


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _build_products() -> tuple[Product, ...]:
    products: list[Product] = []
    for category in CATEGORIES:
        brands = _BRANDS[category.slug]
        for index, (name, price, colour) in enumerate(_PRODUCT_DATA[category.slug]):
            number = 10_001 + len(products)
            colour_code = _slugify(colour).replace("-", "")[:3].upper()
            products.append(
                Product(
                    product_id=f"p-{number}",
                    sku=f"AN-{category.code}-{index + 1:03d}-{colour_code}",
                    name=name,
                    category=category.title,
                    category_slug=category.slug,
                    brand=brands[index % len(brands)],
                    variant=colour,
                    price=price,
                    slug=f"{_slugify(name)}-{number}",
                )
            )
    return tuple(products)


PRODUCTS: tuple[Product, ...] = _build_products()

SEARCH_TERMS: dict[str, tuple[str, ...]] = {
    "dresses": ("summer dress", "midi dress", "black dress", "wrap dress", "maxi"),
    "jeans": ("wide leg jeans", "straight jeans", "black jeans", "mom jeans", "denim"),
    "shirts": ("linen shirt", "white blouse", "oxford", "striped top"),
    "shoes": ("chelsea boots", "loafers", "sandals", "boots", "heels"),
    "sneakers": ("white sneakers", "running shoes", "platform sneakers", "sneaker"),
    "jackets": ("trench coat", "puffer", "rain jacket", "blazer", "leather jacket"),
    "knitwear": ("cashmere", "cardigan", "merino", "turtleneck"),
    "accessories": ("scarf", "sunglasses", "belt", "earrings", "cap"),
    "bags": ("tote bag", "crossbody", "backpack", "clutch"),
    "sportswear": ("leggings", "sports bra", "running jacket", "joggers"),
}


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """A phone model as the Segment mobile SDKs report it."""

    manufacturer: str
    model: str
    name: str
    screen_width: int
    screen_height: int
    min_os_major: int
    weight: float


IOS_MODELS: tuple[DeviceModel, ...] = (
    DeviceModel("Apple", "iPhone12,1", "iPhone 11", 414, 896, 16, 5),
    DeviceModel("Apple", "iPhone13,2", "iPhone 12", 390, 844, 16, 7),
    DeviceModel("Apple", "iPhone14,5", "iPhone 13", 390, 844, 16, 10),
    DeviceModel("Apple", "iPhone14,2", "iPhone 13 Pro", 390, 844, 16, 5),
    DeviceModel("Apple", "iPhone14,6", "iPhone SE (3rd generation)", 375, 667, 16, 3),
    DeviceModel("Apple", "iPhone14,7", "iPhone 14", 390, 844, 16, 9),
    DeviceModel("Apple", "iPhone15,2", "iPhone 14 Pro", 393, 852, 16, 6),
    DeviceModel("Apple", "iPhone15,4", "iPhone 15", 393, 852, 17, 10),
    DeviceModel("Apple", "iPhone16,1", "iPhone 15 Pro", 393, 852, 17, 7),
    DeviceModel("Apple", "iPhone16,2", "iPhone 15 Pro Max", 430, 932, 17, 5),
    DeviceModel("Apple", "iPhone17,3", "iPhone 16", 393, 852, 18, 8),
    DeviceModel("Apple", "iPhone17,1", "iPhone 16 Pro", 402, 874, 18, 5),
)

ANDROID_MODELS: tuple[DeviceModel, ...] = (
    DeviceModel("samsung", "SM-S911B", "Galaxy S23", 1080, 2340, 13, 7),
    DeviceModel("samsung", "SM-S921B", "Galaxy S24", 1080, 2340, 14, 6),
    DeviceModel("samsung", "SM-G991B", "Galaxy S21 5G", 1080, 2400, 12, 4),
    DeviceModel("samsung", "SM-A546B", "Galaxy A54 5G", 1080, 2340, 13, 9),
    DeviceModel("samsung", "SM-A346B", "Galaxy A34 5G", 1080, 2340, 13, 5),
    DeviceModel("samsung", "SM-A145R", "Galaxy A14", 1080, 2408, 13, 4),
    DeviceModel("Google", "Pixel 7", "Pixel 7", 1080, 2400, 13, 3),
    DeviceModel("Google", "Pixel 8", "Pixel 8", 1080, 2400, 14, 3),
    DeviceModel("Xiaomi", "2201117TG", "Redmi Note 11", 1080, 2400, 11, 5),
    DeviceModel("Xiaomi", "2312DRA50G", "Redmi Note 13 Pro 5G", 1220, 2712, 13, 4),
    DeviceModel("OnePlus", "CPH2449", "OnePlus 11", 1440, 3216, 13, 2),
    DeviceModel("motorola", "moto g54 5G", "moto g54 5G", 1080, 2400, 13, 3),
    DeviceModel("OPPO", "CPH2505", "Reno10 5G", 1080, 2412, 13, 2),
)

# (version, weight): point releases users actually run; the generator keeps
# only those at or above a model's minimum major version.
IOS_VERSIONS: tuple[tuple[str, float], ...] = (
    ("16.7.10", 3), ("17.5.1", 4), ("17.6.1", 8), ("18.0.1", 6), ("18.1.1", 10), ("18.2", 12),
)
ANDROID_VERSIONS: tuple[tuple[str, float], ...] = (
    ("11", 3), ("12", 6), ("13", 12), ("14", 18), ("15", 6),
)

# Browser profiles for the web shop: (user agent, screen width, height, weight).
WEB_PROFILES: tuple[tuple[str, int, int, float], ...] = (
    (("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36"), 1920, 1080, 24),
    (("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"), 1536, 864, 8),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 1920, 1080, 6),
    (("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15"), 1440, 900, 12),
    (("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36"), 1728, 1117, 8),
    (("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1"), 390, 844, 22),
    (("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Mobile Safari/537.36"), 412, 915, 20),
)


@dataclass(frozen=True, slots=True)
class AppRelease:
    """An app store release; ``at`` is its release point as a fraction of the demo window."""

    version: str
    build: str
    at: float


# Releases before 0.0 were already out when the window opens.
APP_RELEASES: tuple[AppRelease, ...] = (
    AppRelease("4.10.3", "41003", -0.6),
    AppRelease("4.11.0", "41100", -0.15),
    AppRelease("4.11.1", "41101", 0.12),
    AppRelease("4.12.0", "41200", 0.38),
    AppRelease("4.12.1", "41201", 0.52),
    AppRelease("4.13.0", "41300", 0.81),
)

LIBRARIES: dict[str, tuple[str, str]] = {
    "ios": ("analytics-swift", "1.6.2"),
    "android": ("analytics-kotlin", "1.18.0"),
    "web": ("analytics.js", "npm:next-1.75.0"),
    "server": ("analytics-python", "2.3.3"),
}

# Paid and organic acquisition traffic: (source, medium, name, content, weight).
UTM_CAMPAIGNS: tuple[tuple[str, str, str, str, float], ...] = (
    ("google", "cpc", "brand_search", "text_ad_a", 10),
    ("google", "cpc", "generic_dresses", "rsa_2", 5),
    ("google", "shopping", "pmax_catalogue", "product_feed", 8),
    ("instagram", "paid_social", "new_season_drop", "carousel_3", 8),
    ("facebook", "paid_social", "cart_retargeting", "dpa_feed", 5),
    ("tiktok", "paid_social", "sneaker_week", "creator_video_2", 4),
    ("pinterest", "paid_social", "knitwear_edit", "pin_lookbook", 2),
    ("partner_network", "affiliate", "cashback_partners", "banner_300x250", 3),
    ("instagram", "social", "organic_bio_link", "link_in_bio", 3),
)

# Broadcast email campaigns besides the weekly newsletter:
# (campaign id, name, subject, landing path, window fraction, sale).
EMAIL_CAMPAIGNS: tuple[tuple[str, str, str, str, float, bool], ...] = (
    ("cmp-em-mss", "mid_season_sale", "Mid-Season Sale: up to 40% off", "/sale", 0.18, True),
    ("cmp-em-knit", "new_in_knitwear", "New in: the knitwear edit", "/c/knitwear", 0.33, False),
    ("cmp-em-flash", "weekend_flash_sale", "48 hours only: 30% off everything", "/sale", 0.47, True),
    ("cmp-em-snk", "sneaker_drop", "The sneaker drop you asked for", "/c/sneakers", 0.63, False),
    ("cmp-em-pts", "double_points_week", "Double loyalty points all week", "/loyalty", 0.76, False),
    ("cmp-em-final", "final_reductions", "Final reductions: last chance", "/sale", 0.91, True),
)

# Broadcast push campaigns: (campaign id, name, title, window fraction).
PUSH_CAMPAIGNS: tuple[tuple[str, str, str, float], ...] = (
    ("cmp-push-mss", "mid_season_sale", "Mid-Season Sale is live", 0.18),
    ("cmp-push-restock", "back_in_stock", "Your favourites are back in stock", 0.27),
    ("cmp-push-flash", "weekend_flash_sale", "48h flash sale: 30% off", 0.47),
    ("cmp-push-denim", "denim_week", "Denim week: new fits just landed", 0.56),
    ("cmp-push-snk", "sneaker_drop", "The sneaker drop is here", 0.63),
    ("cmp-push-pts", "double_points_week", "Double points starts now", 0.76),
    ("cmp-push-final", "final_reductions", "Last chance: final reductions", 0.91),
)

COUPONS: dict[str, float] = {
    "WELCOME10": 0.10,
    "APP15": 0.15,
    "SALE20": 0.20,
    "FLASH30": 0.30,
    "LOYAL25": 0.25,
}

# Relative session likelihood by local hour (0-23): quiet nights, a commute
# bump, a lunch bump and the evening couch-shopping peak.
HOUR_WEIGHTS: tuple[float, ...] = (
    1.2, 0.6, 0.3, 0.2, 0.2, 0.4, 1.0, 2.2, 3.0, 2.6, 2.4, 2.7,
    3.4, 3.2, 2.6, 2.5, 2.8, 3.3, 4.2, 5.2, 6.0, 6.2, 4.8, 2.6,
)
# Monday..Sunday: weekends and Sunday evenings are the busiest shopping time.
WEEKDAY_WEIGHTS: tuple[float, ...] = (0.92, 0.88, 0.9, 0.95, 1.02, 1.22, 1.35)
