"""Plain conversion for simple command-line parameters, so a command starts without pydantic.

The typer release emb runs on converts every parameter through a pydantic ``TypeAdapter`` built on
first use; importing pydantic and building the adapters costs 0.2-0.3 s per process, more than a query
on a million-word model takes. The parameters emb declares are simple (str, int, float, bool, plain
paths, enums, their Optional and list forms), so ``speed_up`` gives those a direct converter with the
same checks (ranges, choices) and messages in the same style; any other parameter keeps typer's own.
If typer's internals differ from what this expects, nothing is changed.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from pathlib import Path
from typing import Any

try:
    from typer._click.exceptions import BadParameter
    from typer._coercion import RuntimeParam
    from typer.core import _TyperParameter
except ImportError:  # another typer: leave it alone
    RuntimeParam = None  # type: ignore[assignment,misc]

_LEAVES = (str, int, float, bool, Path)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner type, is_list) for T, Optional[T], list[T], Optional[list[T]]; (None, _) otherwise."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None, False
        return _unwrap(args[0])
    if origin is list:
        (inner,) = typing.get_args(annotation) or (None,)
        leaf, nested = _unwrap(inner)
        return (leaf, True) if leaf is not None and not nested else (None, False)
    if annotation in _LEAVES or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return annotation, False
    return None, False


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"{lo}<=x<={hi}"
    return f"x>={lo}" if lo is not None else f"x<={hi}"


def _converter(leaf: type, info) -> Any:
    """A function value -> leaf value raising ValueError with a message; None if unsupported."""
    if leaf is Path:
        if any(getattr(info, a, None) for a in ("exists", "resolve_path", "allow_dash")) or getattr(
            info, "readable", True
        ) is not True or getattr(info, "file_okay", True) is not True or getattr(info, "dir_okay", True) is not True:
            return None
        return lambda v: v if isinstance(v, Path) else Path(v)
    if leaf is bool:

        def to_bool(v):
            if isinstance(v, bool):
                return v
            text = str(v).strip().lower()
            if text in ("1", "true", "t", "yes", "y", "on"):
                return True
            if text in ("0", "false", "f", "no", "n", "off"):
                return False
            raise ValueError(f"{v!r} is not a valid boolean.")

        return to_bool
    if leaf in (int, float):
        lo, hi, clamp = info.min, info.max, getattr(info, "clamp", False)
        kind = "integer" if leaf is int else "number"

        def to_number(v):
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise ValueError(f"{v!r} is not a valid {kind}.")
            try:
                x = leaf(v)
            except ValueError:
                raise ValueError(f"{v!r} is not a valid {kind}.") from None
            if (lo is not None and x < lo) or (hi is not None and x > hi):
                if not clamp:
                    raise ValueError(f"{v} is not in the range {_range_text(lo, hi)}.")
                x = max(lo, x) if lo is not None else x
                x = min(hi, x) if hi is not None else x
            return x

        return to_number
    if issubclass(leaf, Enum):
        sensitive = getattr(info, "case_sensitive", True)

        def to_enum(v):
            if isinstance(v, leaf):
                return v
            for member in leaf:
                if member.value == v or (not sensitive and str(member.value).casefold() == str(v).casefold()):
                    return member
            choices = ", ".join(repr(m.value) for m in leaf)
            raise ValueError(f"{v!r} is not one of {choices}.")

        return to_enum
    if leaf is str:
        return lambda v: v if isinstance(v, str) else str(v)
    return None


if RuntimeParam is not None:

    class _PlainParam(RuntimeParam):
        """A runtime parameter converting with a plain function (see the module docstring)."""

        def __init__(self, parameter_info, annotation, convert, is_list):
            object.__setattr__(self, "parameter_info", parameter_info)
            object.__setattr__(self, "annotation", annotation)
            object.__setattr__(self, "convert", convert)
            object.__setattr__(self, "is_list", is_list)

        def _coerce_value(self, value, param, ctx):
            try:
                if self.is_list:
                    items = value if isinstance(value, (list, tuple)) else [value]
                    return [self.convert(v) for v in items]
                return self.convert(value)
            except ValueError as exc:
                raise BadParameter(str(exc), ctx=ctx, param=param) from None


def _plain_runtime_param(param):
    """A plain runtime parameter for ``param``, or None when typer's own is needed."""
    desc = getattr(param, "type_descriptor", None)
    info = getattr(desc, "parameter_info", None)
    if desc is None or info is None or getattr(desc, "file_annotation", None) is not None:
        return None
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return None
    leaf, is_list = _unwrap(desc.annotation)
    convert = _converter(leaf, info) if leaf is not None else None
    return _PlainParam(info, desc.annotation, convert, is_list) if convert is not None else None


def install() -> None:
    """Make every typer parameter try the plain converter before building a pydantic one (once)."""
    if RuntimeParam is None or getattr(_TyperParameter, "_emb_plain", False):
        return
    original = _TyperParameter.get_runtime_param

    def get_runtime_param(self):
        if getattr(self, "_runtime_param", None) is None:
            self._runtime_param = _plain_runtime_param(self)
        return self._runtime_param if self._runtime_param is not None else original(self)

    _TyperParameter.get_runtime_param = get_runtime_param
    _TyperParameter._emb_plain = True
