"""Message templates: sandboxed Jinja with an allow-list, checked when saved, bounded when rendered.

A workspace editor writes templates, so a template is untrusted code. Three layers keep it
harmless:

- **The sandbox.** ``ImmutableSandboxedEnvironment`` refuses private attributes and
  mutating methods (the ``''.__class__.__mro__`` escapes). On top of it only allow-listed
  filters exist, only a few plain methods may be called (``dict.get``, ``str.upper``…), no
  globals but a bounded ``range``, and a template may not define macros, call blocks,
  imports, includes or assignments: marketing copy needs none of them, and each is a way to
  build output that grows faster than the source (the render bombs).
- **Checks at save.** Syntax errors and top-level names outside the message's context are
  refused with the line, so ``{{ tratis.name }}`` never reaches a customer.
- **Bounds at render.** Output is produced in chunks and stopped past a size limit; loops
  are over bounded data or the bounded ``range``, which also checks the time limit, so a
  render ends in time or fails with ``render_limit``. An undefined variable fails the render
  (``StrictUndefined``) instead of sending a blank: ``{{ traits.first_name | default("there") }}``
  is the documented fallback.

The clock is passed in (the domain reads no time of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SOURCE_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """How much one render may produce and how long it may take."""

    max_output_chars: int = 256_000
    max_seconds: float = 0.2
    max_range: int = 10_000


class TemplateRejected(ValueError):
    """A template that cannot be saved: bad syntax, an unknown name, or a forbidden construct."""

    def __init__(self, code: str, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.line = code, message, line


class RenderFailed(Exception):
    """A render that did not finish: ``reason`` is render_limit, missing_variable or template_error."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


FORBIDDEN_NODES: dict[type[nodes.Node], str] = {
    nodes.Macro: "macros", nodes.CallBlock: "call blocks", nodes.Import: "imports",
    nodes.FromImport: "imports", nodes.Include: "includes", nodes.Extends: "template inheritance",
    nodes.Assign: "assignments", nodes.AssignBlock: "assignments", nodes.With: "with blocks",
}

RESERVED_NAMES = frozenset({"self", "caller", "varargs", "kwargs"})

# Methods a template may call, per type of the object they belong to. Everything else
# (``'a'.ljust(10**9)``, ``str.format``) is refused by the sandbox's call hook.
CALLABLE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset({"upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith",
                    "endswith", "isdigit", "isalpha"}),
    dict: frozenset({"get", "items", "keys", "values"}),
}

# Filters that cannot produce output much larger than their input; each result is also
# measured, so a chain of them stays under the output limit.
SAFE_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
    "filesizeformat", "groupby", "int", "join", "last", "length", "list", "lower", "map", "max",
    "min", "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr", "slice",
    "batch", "sort", "string", "striptags", "sum", "title", "trim", "truncate", "unique", "upper",
    "urlencode", "wordcount", "wordwrap",
)


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with an allow-list of callable methods and size-checked arithmetic."""

    intercepted_binops = frozenset({"*", "**", "+"})
    max_output_chars = RenderLimits().max_output_chars

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        allowed = getattr(__obj, "loopline_callable", False) or (
            owner is not None and name in CALLABLE_METHODS.get(type(owner), frozenset())
        )
        if not allowed:
            raise SecurityError(f"calling {name or 'this object'} is not allowed in templates")
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # ``traits.firstName`` on a plain dict: Jinja tries the attribute first and looks the
        # key up after the AttributeError; a dict has no attributes but its class's, so going
        # to the key at once returns the same, without raising (a tenth of a short render).
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "*" and (isinstance(left, str | list) or isinstance(right, str | list)):
            count = right if isinstance(left, str | list) else left
            size = len(left) if isinstance(left, str | list) else len(right)
            if isinstance(count, int) and count * max(size, 1) > self.max_output_chars:
                raise SecurityError("a repeated string would exceed the output limit")
        # Bound the size of a power's result, not just the exponent: (2**64)**64 is already 4,096 bits.
        if operator_name == "**" and isinstance(right, int | float) and isinstance(left, int | float) and (
            abs(right) > 64 or abs(int(left)).bit_length() * abs(right) > 1024
        ):
            raise SecurityError("a power this large is not allowed in templates")
        result = super().call_binop(context, operator_name, left, right)
        _check_size(result, self.max_output_chars)
        return result


def _check_size(value: Any, limit: int) -> None:
    if isinstance(value, str | list | tuple) and len(value) > limit:
        raise SecurityError("a value in the template exceeds the output limit")


def _guarded(function: Callable[..., Any], limit: int) -> Callable[..., Any]:
    def filter_with_limit(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        if isinstance(result, Iterator):  # lazy filters (map, select) stay lazy but bounded by their input
            return result
        _check_size(result, limit)
        return result

    for attribute in ("jinja_pass_arg",):
        if hasattr(function, attribute):
            setattr(filter_with_limit, attribute, getattr(function, attribute))
    return filter_with_limit


def _environment(*, autoescape: bool, limits: RenderLimits) -> _Sandbox:
    environment = _Sandbox(undefined=StrictUndefined, autoescape=autoescape, auto_reload=False, cache_size=0)
    environment.max_output_chars = limits.max_output_chars
    defaults = environment.filters
    environment.filters = {name: _guarded(defaults[name], limits.max_output_chars) for name in SAFE_FILTERS}
    environment.globals = {}
    environment.tests = {name: environment.tests[name] for name in (
        "defined", "undefined", "none", "number", "string", "mapping", "sequence", "even", "odd",
        "divisibleby", "eq", "ne", "lt", "le", "gt", "ge", "in", "true", "false",
    )}
    return environment


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A checked template, ready to render many times."""

    source: str
    names: frozenset[str]
    html: bool
    _template: Any
    _environment: _Sandbox
    uses_range: bool = True  # whether it calls ``range`` (a bounded one is made for each render that does)


def compile_template(
    source: str, *, allowed_names: frozenset[str], html: bool = False, limits: RenderLimits = RenderLimits(),
) -> CompiledTemplate:
    """Check a template and compile it; raise TemplateRejected saying what is wrong and where."""
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateRejected("template_too_long", f"a template may hold at most {MAX_SOURCE_CHARS:,} characters")
    environment = _environment(autoescape=html, limits=limits)
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateRejected("template_syntax", f"line {error.lineno}: {error.message}", line=error.lineno) from None
    for node in tree.find_all(tuple(FORBIDDEN_NODES)):
        what = FORBIDDEN_NODES[type(node)]
        raise TemplateRejected("template_forbidden", f"line {node.lineno}: {what} are not allowed in message templates",
                               line=node.lineno)
    for node in tree.find_all(nodes.Filter):
        if node.name not in environment.filters:
            raise TemplateRejected("template_unknown_filter", f"line {node.lineno}: there is no filter {node.name!r}; "
                                   f"filters: {', '.join(sorted(SAFE_FILTERS))}", line=node.lineno)
    for node in tree.find_all(nodes.Name):
        if node.name in RESERVED_NAMES:  # Jinja's own references, never part of a message's data
            raise TemplateRejected("template_forbidden", f"line {node.lineno}: {node.name!r} is not available in "
                                   "message templates", line=node.lineno)
    undeclared = frozenset(meta.find_undeclared_variables(tree))
    names = undeclared - {"range"}
    unknown = sorted(names - allowed_names)
    if unknown:
        raise TemplateRejected(
            "template_unknown_name",
            f"unknown name {', '.join(repr(name) for name in unknown)}; "
            f"a message can use {', '.join(sorted(allowed_names))}",
        )
    try:
        template = environment.from_string(tree)
        # The environment has no globals (see _environment): a plain empty mapping spares each
        # render a walk over Jinja's layered one.
        template.globals = {}
    except TemplateError as error:  # pragma: no cover - parse() already caught what compiling finds
        raise TemplateRejected("template_syntax", str(error)) from None
    return CompiledTemplate(source, names, html, template, environment, "range" in undeclared)


CHUNKS_PER_CLOCK_READING = 16


def _bounded_range(clock: Callable[[], float], deadline: float, limits: RenderLimits) -> Callable[..., Iterator[int]]:
    """Return the ``range`` a template may call: at most ``max_range`` steps, and it stops at the deadline."""

    def bounded_range(*args: int) -> Iterator[int]:
        steps = range(*args)
        if len(steps) > limits.max_range:
            raise SecurityError(f"range() may count at most {limits.max_range:,} steps in a template")
        for index, value in enumerate(steps):
            if index % 256 == 0 and clock() > deadline:
                raise RenderFailed("render_limit", f"the render took longer than {limits.max_seconds:g} s")
            yield value

    bounded_range.loopline_callable = True  # type: ignore[attr-defined]
    return bounded_range


def render(
    template: CompiledTemplate, context: Mapping[str, Any], *, clock: Callable[[], float],
    limits: RenderLimits = RenderLimits(),
) -> str:
    """Render within the limits; raise RenderFailed with a reason when it cannot."""
    deadline = clock() + limits.max_seconds
    variables = {**context, "range": _bounded_range(clock, deadline, limits)} if template.uses_range else context
    parts: list[str] = []
    size = 0
    try:
        for index, chunk in enumerate(template._template.generate(variables)):
            size += len(chunk)
            if size > limits.max_output_chars:
                raise RenderFailed("render_limit", f"the message grew past {limits.max_output_chars:,} characters")
            # The clock is read every few chunks and once at the end: reading a thread's CPU
            # time is a system call, and once per chunk it was a third of a short message's
            # render. A chunk's own work is bounded by the size guards.
            if index % CHUNKS_PER_CLOCK_READING == CHUNKS_PER_CLOCK_READING - 1 and clock() > deadline:
                raise RenderFailed("render_limit", f"the render took longer than {limits.max_seconds:g} s")
            parts.append(chunk)
        if clock() > deadline:
            raise RenderFailed("render_limit", f"the render took longer than {limits.max_seconds:g} s")
    except UndefinedError as error:
        raise RenderFailed("missing_variable", f"{error.message}; give it a fallback with | default(...)") from None
    except SecurityError as error:
        raise RenderFailed("render_limit", str(error)) from None
    except RecursionError:
        raise RenderFailed("render_limit", "the template nests too deeply") from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as error:
        raise RenderFailed("template_error", f"{type(error).__name__}: {error}") from None
    return "".join(parts)

