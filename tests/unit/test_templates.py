"""Message templates: the SSTI pack (S1), render bombs and undefined variables (B7), and plain rendering."""

from __future__ import annotations

import gc
import itertools
import os
import time

import pytest

from loopline.actions.messages import CompiledContent, render_content
from loopline.domain.templates import (
    RenderFailed,
    RenderLimits,
    TemplateRejected,
    compile_template,
    render,
)

NAMES = frozenset({"profile", "traits", "computed", "event", "recommendations", "campaign", "links"})
CONTEXT = {"traits": {"first_name": "Ada", "plan": "pro"}, "computed": {"orders": 3}, "profile": {"id": "p1"}}


def _render(source: str, context: dict[str, object] | None = None, *, html: bool = False, **limits: float) -> str:
    template = compile_template(source, allowed_names=NAMES, html=html)
    return render(template, CONTEXT if context is None else context, clock=time.monotonic,
                  limits=RenderLimits(**limits))  # type: ignore[arg-type]


def test_personalises_with_traits_computed_properties_and_fallbacks() -> None:
    assert _render("Hi {{ traits.first_name }}, order #{{ computed.orders + 1 }}") == "Hi Ada, order #4"
    assert _render("Hi {{ traits.nickname | default('there') }}") == "Hi there"
    assert _render("{% if traits.plan == 'pro' %}Pro{% else %}Free{% endif %}") == "Pro"
    assert _render("{{ traits.get('first_name') | upper }}") == "ADA"


def test_html_templates_escape_customer_data() -> None:
    hostile = {"traits": {"first_name": "<script>alert(1)</script>"}}
    escaped = "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert _render("<p>{{ traits.first_name }}</p>", hostile, html=True) == escaped
    assert _render("{{ traits.first_name }}", hostile) == "<script>alert(1)</script>"  # plain text stays as written


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ 'a{0.__class__}b'.format(1) }}",
        "{{ traits.__class__ }}",
        "{{ traits.first_name.format }}x{{ traits.first_name.format(1) }}",
        "{{ (traits.items()|list)[0].__class__.__base__ }}",
    ],
)
def test_escapes_through_attributes_fail_without_leaking(source: str) -> None:
    with pytest.raises(RenderFailed) as failed:
        _render(source)
    assert failed.value.reason == "render_limit"
    assert "subclass" not in failed.value.message
    assert "object at 0x" not in failed.value.message


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("{{ cycler.__init__.__globals__ }}", "template_unknown_name"),
        ("{{ config }}", "template_unknown_name"),
        ("{{ lipsum.__globals__ }}", "template_unknown_name"),
        ("{{ self }}", "template_forbidden"),
        ("{{ ''|attr('format') }}", "template_unknown_filter"),
        ("{{ traits.first_name|format('%s') }}", "template_unknown_filter"),
        ("{% macro a() %}{{ caller() }}{% endmacro %}", "template_forbidden"),
        ("{% set x = 'a' %}{{ x }}", "template_forbidden"),
        ("{% include 'other' %}", "template_forbidden"),
        ("{% extends 'base' %}", "template_forbidden"),
        ("{% if traits.plan %}", "template_syntax"),
        ("{{ tratis.first_name }}", "template_unknown_name"),
    ],
)
def test_dangerous_or_broken_templates_are_refused_at_save(source: str, code: str) -> None:
    with pytest.raises(TemplateRejected) as rejected:
        compile_template(source, allowed_names=NAMES)
    assert rejected.value.code == code
    assert rejected.value.message


def test_a_stored_format_reference_cannot_reach_a_filter() -> None:
    # CVE-2024-56326's shape: a bound str.format handed to a filter that calls it.
    with pytest.raises(RenderFailed):
        _render("{{ traits.first_name.format | map('upper') | list }}")
    with pytest.raises(RenderFailed):  # a filter named at run time must be on the allow-list too
        _render("{{ [traits] | map('attr', '__class__') | list }}")


def test_no_environment_or_secret_reaches_the_output() -> None:
    os.environ["LOOPLINE_TEST_SECRET"] = "s3cr3t-value"
    try:
        for source in ("{{ traits }}", "{{ profile }}{{ computed }}"):
            assert "s3cr3t-value" not in _render(source)
    finally:
        del os.environ["LOOPLINE_TEST_SECRET"]


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(10**9) %}x{% endfor %}",
        "{{ 'a' * 10**9 }}",
        "{{ traits.first_name * 1000000000 }}",
        "{{ 'a'.ljust(1000000000) }}",
        "{% for i in range(9000) %}{{ 'abcdefghijklmnopqrstuvwxyz0123456789' }}{% endfor %}",
        "{{ traits.first_name|replace('A', 'A' * 200000)|replace('A', 'AAAAAAAAAA') }}",
        "{{ ((2 ** 64) ** 64) ** 64 }}",
    ],
)
def test_render_bombs_fail_with_render_limit(source: str) -> None:
    with pytest.raises(RenderFailed) as failed:
        _render(source)
    assert failed.value.reason == "render_limit"


def test_a_busy_loop_without_output_stops_at_the_time_limit() -> None:
    ticks = itertools.count(0.0, 0.001)  # a clock that moves a millisecond per reading
    template = compile_template("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
                                allowed_names=NAMES)
    with pytest.raises(RenderFailed) as failed:
        render(template, CONTEXT, clock=lambda: next(ticks), limits=RenderLimits(max_seconds=0.05))
    assert failed.value.reason == "render_limit"
    assert next(ticks) < 1.0  # stopped after a few dozen readings, not after 10⁸ iterations


def test_a_long_loop_over_the_data_stops_at_the_time_limit() -> None:
    readings = itertools.count(0.0, 0.001)  # a millisecond per reading: the limit falls after 50 readings
    template = compile_template("{% for x in traits.visits %}.{% endfor %}", allowed_names=NAMES)
    context = {**CONTEXT, "traits": {"visits": list(range(100_000))}}
    with pytest.raises(RenderFailed) as failed:
        render(template, context, clock=lambda: next(readings), limits=RenderLimits(max_seconds=0.05))
    assert failed.value.reason == "render_limit"
    assert next(readings) < 0.1  # stopped after a few thousand chunks, not after a hundred thousand


def test_a_short_render_that_overran_fails_at_the_end() -> None:
    readings = iter([0.0, 1.0])  # the render started, then a second passed before it ended
    template = compile_template("Hi {{ traits.first_name }}", allowed_names=NAMES)
    with pytest.raises(RenderFailed) as failed:
        render(template, CONTEXT, clock=lambda: next(readings), limits=RenderLimits(max_seconds=0.2))
    assert failed.value.reason == "render_limit"


def test_undefined_variables_fail_the_render_instead_of_sending_a_blank() -> None:
    with pytest.raises(RenderFailed) as failed:
        _render("Hi {{ traits.last_name }}")
    assert failed.value.reason == "missing_variable"
    assert "default" in failed.value.message
    with pytest.raises(RenderFailed):
        _render("{{ traits.missing.attr }}")


def test_overlong_sources_are_refused() -> None:
    with pytest.raises(TemplateRejected) as rejected:
        compile_template("x" * 100_001, allowed_names=NAMES)
    assert rejected.value.code == "template_too_long"


class _Collecting:
    """A value whose rendering sets off a full garbage collection over a large heap."""

    def __str__(self) -> str:
        gc.collect()
        return "Ada"


def test_a_full_garbage_collection_inside_a_render_does_not_count_against_its_limit() -> None:
    heap = [{"n": n, "tags": [n]} for n in range(300_000)]  # enough for a collection to pass the limit below
    template = compile_template("Hi {{ traits.first_name }}", allowed_names=NAMES)
    context = {**CONTEXT, "traits": {"first_name": _Collecting()}}
    limits = RenderLimits(max_seconds=0.005)
    with pytest.raises(RenderFailed):  # counted on the thread's plain CPU clock, the collection fails it
        render(template, context, clock=time.thread_time, limits=limits)
    content = CompiledContent(body=template, subject=None, url=None, options=None)
    assert render_content(content, context, limits=limits)["body"] == "Hi Ada"
    assert len(heap) == 300_000
