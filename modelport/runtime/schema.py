"""Support for run() functions decorated with the real ``inference-schema`` package.

The decorators keep their parameter types in their closures; we read them so that bad input is
refused with a 400 naming the parameter *before* run() is called (the decorators themselves would
raise from inside run(), indistinguishable from a bug in the script). The decorators still run and
convert again, which costs an ``isinstance`` check for values already converted.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelport.errors import InvalidInputError

REQUEST_HEADERS_PARAM = "request_headers"


@dataclass(frozen=True, slots=True)
class SchemaParam:
    """One ``@input_schema(name, type)``: the parameter type converts JSON to the declared type."""

    name: str
    param_type: Any
    optional: bool
    convert: bool


@dataclass(slots=True)
class RunSchema:
    """What the decorators on run() declare, and what run()'s signature accepts."""

    params: dict[str, SchemaParam]
    arg_names: list[str]
    required: list[str]
    accepts_any_kwargs: bool
    input_swagger: dict[str, Any]
    output_swagger: dict[str, Any] | None
    versions: list[str] = field(default_factory=list)

    def convert(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Turn a JSON object into run()'s keyword arguments, or raise InvalidInputError (400)."""
        missing = [name for name in self.required if name not in payload]
        if missing:
            names = ", ".join(f"'{n}'" for n in missing)
            raise InvalidInputError(
                f"missing parameter {names}: the JSON body must be an object with the keys "
                f"{', '.join(self.arg_names)}"
            )
        if not self.accepts_any_kwargs:
            unknown = [k for k in payload if k not in self.arg_names or k == REQUEST_HEADERS_PARAM]
            if unknown:
                raise InvalidInputError(
                    f"unexpected parameter {', '.join(repr(k) for k in unknown)}: run() accepts "
                    f"{', '.join(n for n in self.arg_names if n != REQUEST_HEADERS_PARAM)}"
                )
        kwargs = dict(payload)
        for name, param in self.params.items():
            if not param.convert or name not in kwargs:
                continue
            if param.optional and not kwargs[name]:
                continue
            try:
                kwargs[name] = _deserialize(kwargs[name], param.param_type, name)
            except Exception as exc:  # the parameter types raise plain Exception/ValueError
                raise InvalidInputError(f"invalid value for parameter '{name}': {exc}") from exc
        return kwargs


def _deserialize(value: Any, param_type: Any, name: str) -> Any:
    from inference_schema.schema_decorators import _deserialize_input_argument

    return _deserialize_input_argument(value, param_type, name)


def _base_function(run: Callable[..., Any]) -> Callable[..., Any]:
    from inference_schema.schema_util import _get_decorators

    return _get_decorators(run)[-1]


def _declared_params(run: Callable[..., Any]) -> dict[str, SchemaParam]:
    params: dict[str, SchemaParam] = {}
    layer: Any = run
    while layer is not None:
        wrapper = getattr(layer, "_self_wrapper", None)
        if wrapper is not None and getattr(wrapper, "__closure__", None):
            names = inspect.getclosurevars(wrapper).nonlocals
            if "param_name" in names and "param_type" in names:
                params[names["param_name"]] = SchemaParam(
                    name=names["param_name"],
                    param_type=names["param_type"],
                    optional=bool(names.get("optional", False)),
                    convert=bool(names.get("convert_to_provided_type", True)),
                )
        layer = getattr(layer, "__wrapped__", None)
    return params


def inspect_run(run: Callable[..., Any]) -> RunSchema | None:
    """The schema declared on ``run`` by inference-schema decorators, or None if undecorated."""
    try:
        from inference_schema.schema_util import (
            get_input_schema,
            get_output_schema,
            get_supported_versions,
            is_schema_decorated,
        )
    except ImportError:  # pragma: no cover - inference-schema is a dependency
        return None
    if not is_schema_decorated(run):
        return None
    base = _base_function(run)
    spec = inspect.getfullargspec(base)
    defaults = len(spec.defaults or ())
    positional = spec.args[: len(spec.args) - defaults] if defaults else list(spec.args)
    params = _declared_params(run)
    required = [
        n for n in positional if n != REQUEST_HEADERS_PARAM and not (n in params and params[n].optional)
    ]
    output = get_output_schema(run)
    return RunSchema(
        params=params,
        arg_names=[*spec.args, *spec.kwonlyargs],
        required=required,
        accepts_any_kwargs=spec.varkw is not None,
        input_swagger=get_input_schema(run),
        output_swagger=output if _has_output(run) else None,
        versions=list(get_supported_versions(run)),
    )


def _has_output(run: Callable[..., Any]) -> bool:
    from inference_schema.schema_util import __functions_schema__, _get_function_full_qual_name

    return "output_schema" in __functions_schema__.get(_get_function_full_qual_name(_base_function(run)), {})
