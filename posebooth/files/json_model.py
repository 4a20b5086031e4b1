"""Small JSON files the user edits (model presets, model_index.json) into
pydantic models, with every fault as ONE line that names the file, the key
path and what is allowed:

    .../model_presets.json: presets.mine.guidance: must be a number (got "high")

Strict JSON: NaN, Infinity, numbers that overflow to infinity and keys given
twice in one object are refused, and nesting is bounded (a hostile file must
not exhaust the stack). Reading the bytes is the caller's business
(files.safe_read bounds it).
"""
from __future__ import annotations

import json
import math
import types
import typing
from typing import Any, Callable, TypeVar

from pydantic import BaseModel, ValidationError

MAX_DEPTH = 32          # the deepest real file (pose presets) nests 5 levels
_GOT_CHARS = 60         # how much of a bad value a message quotes
M = TypeVar("M", bound=BaseModel)


class JsonFileError(ValueError):
    """A JSON file that cannot be used; the message is one line naming the file."""


class _Refused(ValueError):
    pass


def _no_constant(name: str):
    raise _Refused(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:20]} is too large")
    return value


def _no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise _Refused(f"the key {key!r} appears twice in one object")
        obj[key] = value
    return obj


def _depth(data: Any) -> int:
    """How deeply `data` nests (iterative: the check itself must not recurse)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            todo.extend((v, depth + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "a text string"}.get(type(value), "a number")


def got(value: Any) -> str:
    """A short JSON rendering of a bad value, for messages."""
    try:
        text = json.dumps(value, ensure_ascii=True, default=str)
    except (ValueError, RecursionError):
        text = json_type(value)
    return text if len(text) <= _GOT_CHARS else text[:_GOT_CHARS] + "..."


def key_path(loc: tuple) -> str:
    """('presets', 'mine', 'size', 1) -> 'presets.mine.size[1]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (the key)"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_json(text: str | bytes, origin: str, error: Callable[[str], Exception] = JsonFileError,
               overflow_to_inf: bool = False) -> Any:
    """Strict JSON text (or UTF-8 bytes) -> Python data; faults raise `error`.
    overflow_to_inf: a number too large for a float reads as inf, for a
    caller whose validation then names the field (NaN and Infinity, which
    JSON does not allow, are refused either way)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise error(f"{origin}: not UTF-8 text (a bad byte at offset {e.start}); "
                        "it must be a JSON file saved as UTF-8") from None
    if not text.strip():
        raise error(f"{origin}: the file is empty; it must hold a JSON object")
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=float if overflow_to_inf else _finite_float,
                          object_pairs_hook=_no_duplicates)
    except _Refused as e:
        raise error(f"{origin}: {e}") from None
    except json.JSONDecodeError as e:
        hint = " (the file looks truncated)" if e.pos >= len(text.rstrip()) else ""
        raise error(f"{origin}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}{hint}") from None
    except RecursionError:
        raise error(f"{origin}: JSON nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as e:   # Python refuses integers of more than 4300 digits
        raise error(f"{origin}: a number in the file is too long to read ({str(e).split(':')[0]})") from None
    if _depth(data) > MAX_DEPTH:
        raise error(f"{origin}: JSON nested too deeply (at most {MAX_DEPTH} levels)")
    return data


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str] | None:
    """The keys allowed in the object at `loc` (for 'unknown key' messages)."""
    node: Any = model
    for part in loc:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            node = field.annotation
        elif typing.get_origin(node) in (dict, list):
            node = typing.get_args(node)[-1]
        else:
            return None
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or name for name, f in node.model_fields.items()]
    return None


def _what(e: dict, model: type[BaseModel]) -> str:
    kind, ctx = e["type"], e.get("ctx") or {}
    if kind == "missing":
        return "is required (the list is too short)" if isinstance(e["loc"][-1], int) else "is required"
    if kind == "extra_forbidden":
        keys = _known_keys(model, tuple(e["loc"][:-1]))
        return "is not a known key" + (f" (allowed: {', '.join(keys)})" if keys else "")
    if kind == "literal_error":
        options = str(ctx.get("expected", ""))
        return f"must be {options}" if " or " not in options else f"must be one of {options}"
    if kind in ("too_short", "too_long"):
        lo, hi = ctx.get("min_length"), ctx.get("max_length")
        count = f"{lo}" if lo is not None and lo == hi else f"at least {lo}" if kind == "too_short" else f"at most {hi}"
        return f"must have {count} item(s)"
    if kind == "string_too_short":
        least = ctx.get("min_length")
        return "must not be empty" if least == 1 else f"must have at least {least} characters"
    if kind == "string_too_long":
        return f"must have at most {ctx.get('max_length')} characters"
    bounds = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
              "greater_than": ("gt", "more than"), "less_than": ("lt", "less than")}
    if kind in bounds:
        key, words = bounds[kind]
        return f"must be {words} {ctx.get(key)}"
    simple = {
        "float_type": "must be a number", "float_parsing": "must be a number",
        "int_type": "must be a whole number", "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number", "bool_type": "must be true or false",
        "string_type": "must be a text string", "dict_type": "must be an object ({...})",
        "model_type": "must be an object ({...})", "model_attributes_type": "must be an object ({...})",
        "list_type": "must be a list ([...])", "tuple_type": "must be a list ([...])",
        "finite_number": "must be a finite number",
    }
    if kind == "multiple_of":
        return f"must be a multiple of {ctx.get('multiple_of')}"
    if kind in simple:
        return simple[kind]
    msg = str(e.get("msg", kind))
    return msg.removeprefix("Value error, ")


def describe(err: ValidationError, model: type[BaseModel]) -> str:
    """The first problem of a ValidationError as `key.path: what is wrong (got X)`, one line."""
    problems = err.errors()
    e = problems[0]
    text = f"{key_path(tuple(e['loc']))}: {_what(e, model)}"
    if e["type"] not in ("missing",):
        text += f" (got {got(e.get('input'))})"
    if len(problems) > 1:
        text += f" (and {len(problems) - 1} more problem(s))"
    return " ".join(text.split())   # one line whatever a validator said


def load_model(model: type[M], text: str | bytes, origin: str,
               error: Callable[[str], Exception] = JsonFileError) -> M:
    """Strict JSON text -> a validated `model`; every fault raises `error` (one line)."""
    return validate_data(model, parse_json(text, origin, error), origin, error)


def validate_data(model: type[M], data: Any, origin: str,
                  error: Callable[[str], Exception] = JsonFileError) -> M:
    """Parsed JSON (parse_json's) -> a validated `model`; every fault raises `error` (one line)."""
    if not isinstance(data, dict):
        raise error(f"{origin}: must be a JSON object ({{...}}), found {json_type(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise error(f"{origin}: {describe(e, model)}") from None
    except RecursionError:
        raise error(f"{origin}: JSON nested too deeply (at most {MAX_DEPTH} levels)") from None
