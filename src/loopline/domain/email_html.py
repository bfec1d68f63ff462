"""Email HTML as mail clients need it: MJML layouts turned into HTML, and CSS moved into the tags.

Both run once per campaign or journey version, when its templates are compiled — not per
recipient. MJML's output keeps the ``{{ … }}`` and ``{% … %}`` of the template language
untouched, so personalisation still happens at render time. Many clients (Gmail among
them) drop ``<style>`` blocks, so their rules are written into each element's ``style``;
media queries stay in a ``<style>`` block, as they cannot be inlined. Stylesheets are never
fetched from the network: a template must not make the platform call out.
"""

from __future__ import annotations

import css_inline
import mjml

_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


class EmailHtmlRejected(ValueError):
    """An email body that cannot be turned into HTML (broken MJML, unparseable CSS)."""


def is_mjml(body: str) -> bool:
    """Return whether a body is an MJML layout (its root element is ``<mjml>``)."""
    return body.lstrip().startswith("<mjml")


def email_html(body: str) -> str:
    """Return the HTML to send for an email body: MJML rendered, then ``<style>`` rules inlined."""
    html = body
    if is_mjml(body):
        try:
            html = mjml.mjml2html(body)
        except ValueError as error:
            raise EmailHtmlRejected(f"the MJML layout does not parse: {error}") from None
    if "<style" not in html.lower():
        return html  # nothing to inline: the body stays exactly as written
    try:
        return str(_INLINER.inline(html))
    except css_inline.InlineError as error:
        raise EmailHtmlRejected(f"the email's CSS cannot be inlined: {error}") from None
