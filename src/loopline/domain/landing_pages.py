"""Landing pages: their definition, the page and form a customer sees, and checking what they submit.

A landing page is a sandboxed HTML template (the message template sandbox, autoescaped) that a
personalised URL opens for one customer, with an optional form whose answers become traits on
that customer's profile. Only the fields the page declares are ever written, each checked
against its type; identifiers (``email``, ``phone``) are not among the traits a page may set,
because a form anyone holding the link can fill in must not join one profile to another's.

The clock is passed in where rendering needs one; the domain reads no time of its own.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loopline.domain.links import hrefs, link_problem
from loopline.domain.templates import CompiledTemplate, TemplateRejected, compile_template

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
SLUG = re.compile(SLUG_PATTERN)
FIELD_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
PAGE_NAMES = frozenset({"profile", "traits", "page", "campaign"})
# Traits that identify a customer: a form must not set them (see the module docstring), nor the
# Segment spec's identifiers, which are not traits at all.
RESERVED_FIELDS = frozenset({"email", "phone", "userid", "user_id", "anonymousid", "anonymous_id", "id"})
MAX_FIELDS = 30
MAX_CHOICES = 50
MAX_TEXT = 1_000  # characters of one answer
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
_NUMBER = re.compile(r"-?\d{1,20}(?:\.\d{1,20})?(?:[eE][+-]?\d{1,3})?")
_SCRIPT = re.compile(r"<\s*script\b|<[^>]*\son[a-z]+\s*=|<\s*(?:iframe|object|embed|base)\b", re.IGNORECASE)
TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"", "off", "false", "0", "no"})
FieldType = Literal["text", "email", "number", "boolean", "choice"]


class FormField(BaseModel):
    """One question of a landing page's form; its answer is written to the trait of the same name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=FIELD_PATTERN, description="The trait the answer is written to.")
    label: str = Field(min_length=1, max_length=200)
    type: FieldType = "text"
    required: bool = False
    choices: list[str] | None = Field(default=None, description="The allowed answers of a `choice` field.")

    @field_validator("name")
    @classmethod
    def _not_an_identifier(cls, name: str) -> str:
        if name.lower() in RESERVED_FIELDS:
            raise ValueError(f"{name!r} identifies a customer and cannot be set by a form; use another trait name")
        return name

    @model_validator(mode="after")
    def _choices_fit(self) -> FormField:
        if self.type == "choice":
            if not self.choices or len(self.choices) > MAX_CHOICES:
                raise ValueError(f"a choice field needs 1 to {MAX_CHOICES} choices")
            if any(not choice or len(choice) > 200 for choice in self.choices) or len(set(self.choices)) != len(
                    self.choices):
                raise ValueError("choices must be distinct texts of 1 to 200 characters")
        elif self.choices is not None:
            raise ValueError("only a choice field has choices")
        return self


class LandingPageDefinition(BaseModel):
    """What a landing page is made of: its address, title, HTML body, and optionally a form and a thank-you."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG_PATTERN, description="Unique in the workspace; messages link to `purl:{slug}`.")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=100_000, description="A sandboxed Jinja template of HTML.")
    form: list[FormField] | None = Field(default=None, max_length=MAX_FIELDS)
    submit_label: str = Field(default="Send", min_length=1, max_length=60)
    thank_you: str | None = Field(default=None, max_length=20_000,
                                  description="The template shown after a form is submitted.")

    @field_validator("form")
    @classmethod
    def _distinct_fields(cls, form: list[FormField] | None) -> list[FormField] | None:
        if form is not None and len({item.name for item in form}) != len(form):
            raise ValueError("each field of a form needs its own name")
        return form or None


class PageRejected(ValueError):
    """A landing page that cannot be saved; ``problems`` name the parts (``body``, ``thank_you``)."""

    def __init__(self, code: str, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.code, self.message, self.problems = code, message, problems


@dataclass(frozen=True, slots=True)
class CompiledPage:
    """A checked landing page, ready to render for customers."""

    definition: LandingPageDefinition
    body: CompiledTemplate
    thank_you: CompiledTemplate | None


def compile_page(definition: LandingPageDefinition) -> CompiledPage:
    """Compile a page's templates in the sandbox; raise PageRejected naming each part that is wrong."""
    compiled: dict[str, CompiledTemplate | None] = {"body": None, "thank_you": None}
    problems: list[dict[str, str]] = []
    for part in compiled:
        source = getattr(definition, part)
        if source is None:
            continue
        try:
            compiled[part] = compile_template(source, allowed_names=PAGE_NAMES, html=True)
        except TemplateRejected as error:
            problems.append({"path": part, "message": error.message, "code": error.code})
    problems.extend(_markup_problems(definition))
    body = compiled["body"]
    if problems or body is None:
        raise PageRejected(problems[0]["code"], "; ".join(p["message"] for p in problems), problems)
    return CompiledPage(definition, body, compiled["thank_you"])


def _markup_problems(definition: LandingPageDefinition) -> list[dict[str, str]]:
    """Return a problem per script, event handler or unsafe link in a page's templates.

    The page's Content-Security-Policy would stop them anyway; refusing them at save tells the
    author now instead of leaving a page that silently does not do what it shows.
    """
    found: list[dict[str, str]] = []
    for part in ("body", "thank_you"):
        source = getattr(definition, part) or ""
        if _SCRIPT.search(source):
            found.append({"path": part, "code": "script_not_allowed",
                          "message": "scripts, event handler attributes (onclick=…), frames, objects and <base> "
                                     "are not allowed on a page"})
        for href in hrefs(source):
            if problem := link_problem(href, relative=True):
                found.append({"path": part, "code": "unsafe_link", "message": f"{href[:60]}: {problem}"})
    return found


def page_context(*, profile_id: str, identifiers: Mapping[str, str], traits: Mapping[str, Any],
                 definition: LandingPageDefinition, campaign: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a page's templates see about one customer (the names campaign templates use)."""
    return {"profile": {"id": profile_id, **identifiers}, "traits": dict(traits),
            "page": {"slug": definition.slug, "title": definition.title}, "campaign": dict(campaign)}


def sample_context(definition: LandingPageDefinition, *, submitted: bool = False) -> dict[str, Any]:
    """Return the context of a customer nobody knows anything about: a page must render for them too.

    After a submission (``submitted``) that customer has answered the required fields, and nothing else.
    """
    samples = {"text": "text", "email": "name@example.com", "number": 0, "boolean": True}
    traits = {item.name: samples.get(item.type, (item.choices or [""])[0])
              for item in definition.form or [] if item.required} if submitted else {}
    return page_context(profile_id="", identifiers={}, traits=traits, definition=definition,
                        campaign={"id": "", "name": ""})


# --- Answers ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answers:
    """A submitted form: the traits to write, what was typed (to show again), and a message per wrong field."""

    traits: dict[str, Any]
    typed: dict[str, str]
    errors: dict[str, str]


def check_answers(fields: Sequence[FormField], submitted: Mapping[str, Sequence[str]]) -> Answers:
    """Check a submission against the form: only declared fields count, each by its type."""
    traits: dict[str, Any] = {}
    typed: dict[str, str] = {}
    errors: dict[str, str] = {}
    for item in fields:
        values = submitted.get(item.name) or []
        if len(values) > 1:
            errors[item.name] = "give one answer"
            continue
        raw = values[0] if values else ""
        typed[item.name] = raw[:MAX_TEXT]
        value, error = _value(item, raw)
        if error:
            errors[item.name] = error
        elif value is not None:
            traits[item.name] = value
    return Answers(traits, typed, errors)


def _value(item: FormField, raw: str) -> tuple[Any, str | None]:
    if item.type == "boolean":
        return _boolean(item, raw)
    text = raw.strip()
    if not text:
        return None, ("this field is required" if item.required else None)
    if len(text) > (MAX_EMAIL if item.type == "email" else MAX_TEXT):
        return None, "this answer is too long"
    return _CHECKS[item.type](item, text)


def _email(_: FormField, text: str) -> tuple[Any, str | None]:
    return (text, None) if _EMAIL.fullmatch(text) else (None, "enter an email address like name@example.com")


def _choice(item: FormField, text: str) -> tuple[Any, str | None]:
    return (text, None) if text in (item.choices or []) else (None, "choose one of the options")


def _text(_: FormField, text: str) -> tuple[Any, str | None]:
    return text, None


def _boolean(item: FormField, raw: str) -> tuple[Any, str | None]:
    word = raw.strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        return None, "answer yes or no"
    checked = word in TRUE_WORDS
    if item.required and not checked:
        return None, "this box must be ticked"
    return checked, None


def _number(_: FormField, text: str) -> tuple[Any, str | None]:
    if not _NUMBER.fullmatch(text):
        return None, "enter a number"
    number = float(text) if any(mark in text for mark in ".eE") else int(text)
    if not math.isfinite(number) or abs(number) > 1e15:
        return None, "enter a number"
    return number, None


_CHECKS: dict[str, Callable[[FormField, str], tuple[Any, str | None]]] = {
    "text": _text, "email": _email, "number": _number, "choice": _choice}


# --- The form's markup --------------------------------------------------------------------------------------------


def form_html(definition: LandingPageDefinition, *, action: str, typed: Mapping[str, str],
              errors: Mapping[str, str]) -> str:
    """Return the form's HTML: every field labelled, answers and errors shown again, everything escaped."""
    if not definition.form:
        return ""
    rows = [_field_html(item, typed.get(item.name, ""), errors.get(item.name)) for item in definition.form]
    summary = ('<p class="ll-errors" role="alert">Please correct the highlighted fields.</p>' if errors else "")
    return (f'<form class="ll-form" method="post" action="{html.escape(action, quote=True)}" novalidate>{summary}'
            f'{"".join(rows)}<p><button type="submit">{html.escape(definition.submit_label)}</button></p></form>')


def _field_html(item: FormField, value: str, error: str | None) -> str:
    name = html.escape(item.name, quote=True)
    ident = f"ll-{name}"
    required = " required" if item.required else ""
    described = f' aria-invalid="true" aria-describedby="{ident}-error"' if error else ""
    label = html.escape(item.label) + (' <span aria-hidden="true">*</span>' if item.required else "")
    if item.type == "boolean":
        checked = " checked" if value.strip().lower() in TRUE_WORDS else ""
        control = (f'<label><input type="checkbox" id="{ident}" name="{name}" value="on"{checked}{required}'
                   f'{described}> {label}</label>')
    elif item.type == "choice":
        options = "".join(
            f'<option value="{html.escape(choice, quote=True)}"{" selected" if choice == value else ""}>'
            f"{html.escape(choice)}</option>" for choice in item.choices or [])
        control = (f'<label for="{ident}">{label}</label><select id="{ident}" name="{name}"{required}{described}>'
                   f'<option value=""></option>{options}</select>')
    else:
        kind = {"email": "email", "number": "text"}.get(item.type, "text")
        mode = ' inputmode="decimal"' if item.type == "number" else ""
        control = (f'<label for="{ident}">{label}</label><input type="{kind}" id="{ident}" name="{name}"{mode} '
                   f'value="{html.escape(value, quote=True)}" maxlength="{MAX_TEXT}"{required}{described}>')
    message = f'<span class="ll-error" id="{ident}-error">{html.escape(error)}</span>' if error else ""
    return f'<div class="ll-field{" ll-invalid" if error else ""}">{control}{message}</div>'
