"""modelport.runtime.fastjson.loads is json.loads: same value (types, -0.0, NaN), same exception."""

from __future__ import annotations

import decimal
import json
import math
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelport.runtime import fastjson


def outcome(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return ("value", canonical(fn(*args, **kwargs)))
    except Exception as exc:  # the exception's type and text must match too
        return ("error", (type(exc).__name__, str(exc)))


def canonical(value: Any) -> Any:
    """A form where == means identical JSON values: exact types, floats by repr (NaN, -0.0)."""
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, dict):
        return ("dict", [(k, canonical(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [canonical(v) for v in value])
    return (type(value).__name__, value)


def same(text: str | bytes | bytearray) -> None:
    assert outcome(fastjson.loads, text) == outcome(_std, text)


def _std(text: Any) -> Any:
    return fastjson._std_loads(text)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(),  # NaN and infinities: json.dumps writes NaN / Infinity
    st.floats(width=32),
    st.text(),  # lone surrogates included
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=40,
)
styles = st.sampled_from(
    [{}, {"ensure_ascii": False}, {"indent": 2}, {"separators": (",", ":")}, {"sort_keys": True}]
)


@settings(max_examples=600, deadline=None)
@given(values, styles)
def test_same_as_json_on_generated_documents(value: Any, style: dict[str, Any]) -> None:
    text = json.dumps(value, **style)
    same(text)
    same(text.encode("utf-8", "surrogatepass"))
    same(bytearray(text.encode("utf-8", "surrogatepass")))


@settings(max_examples=600, deadline=None)
@given(st.from_regex(r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][-+]?[0-9]{1,3})?", fullmatch=True))
@example("18446744073709551616")  # orjson alone: a float
@example("-9223372036854775809")
@example("1e400")
@example("-0")
@example("4.9e-324")
def test_same_as_json_on_numbers(number: str) -> None:
    same(number)
    same(f'[{number}, {{"k": {number}}}]')


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(max_size=40), st.binary(max_size=40)))
@example("\ufeff[1]")
@example(b"\xef\xbb\xbf[1]")
@example('"\\ud800"')
@example("[NaN, Infinity, -Infinity]")
@example(" [1] \x0c")
@example(b"[\x00]\x00")
@example('{"a": 1, "a": 2}')
def test_same_as_json_on_arbitrary_text(text: str | bytes) -> None:
    same(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}":,0\\ab', max_size=60))
def test_same_as_json_on_bracket_soup(text: str) -> None:
    same(text)


def test_same_near_the_recursion_limit() -> None:
    for depth in (100, 500, 900, 980, 1000, 1020, 1024, 1030, 2000):
        same("[" * depth + "]" * depth)
        same('{"a":' * depth + "1" + "}" * depth)
        same('["\\\\\\"[[[[",' * depth + "1" + "]" * depth)


def test_keyword_arguments_and_other_types_go_to_the_standard_library() -> None:
    assert fastjson.loads("1.5", parse_float=decimal.Decimal) == decimal.Decimal("1.5")
    assert fastjson.loads('{"a": 1}', object_pairs_hook=list) == [("a", 1)]
    assert math.isnan(fastjson.loads("NaN"))
    assert outcome(fastjson.loads, memoryview(b"[1]")) == outcome(_std, memoryview(b"[1]"))
    assert outcome(fastjson.loads, 5) == outcome(_std, 5)


def test_install_and_uninstall() -> None:
    try:
        fastjson.install()
        assert json.loads is fastjson.loads and fastjson.installed()
        assert json.load.__globals__["loads"] is fastjson.loads  # json.load goes through it too
    finally:
        fastjson.uninstall()
    assert json.loads is fastjson._std_loads and not fastjson.installed()


def test_orjson_does_the_work_for_ordinary_documents(monkeypatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(fastjson, "_std_loads", lambda *a, **k: calls.append(a) or json.loads(*a, **k))
    rows = json.dumps({"data": [[i / 7 for i in range(50)] for _ in range(2000)]})  # 4,001 brackets
    assert fastjson.loads(rows) == json.loads(rows)
    assert fastjson.loads(rows.encode()) == json.loads(rows)
    assert fastjson.loads('{"a": "b", "n": 12345678901234567}') == {"a": "b", "n": 12345678901234567}
    assert calls == []
    fastjson.loads("[18446744073709551616]")
    assert len(calls) == 1


def test_a_remembered_body_is_not_encoded_again() -> None:
    text = json.dumps({"data": [[1.5, 2], [3, 4]], "n": 12345678901234567890})
    data = text.encode()
    try:
        fastjson.remember(text, data)
        assert canonical(fastjson.loads(text)) == canonical(json.loads(text))  # big int: the stdlib's
        other = text.replace("1.5", "2.5")
        assert fastjson.loads(other) == json.loads(other)  # another object: encoded as usual
    finally:
        fastjson.forget()
    assert fastjson._known is None
