"""v1's ``partition_format``: partition values read from the folders and names of a dataset's files.

``"{user}/{season}/{genres}.wav"`` matched against ``.../dataset_partition_test/user1/winter/disco.wav``
gives ``{"user": "user1", "season": "winter", "genres": "disco"}``. As in v1 the format runs from the
first partition key to the end of the path, so it is matched against the path's tail; a literal
prefix (``"dataset_partition_test/{user}/..."``) must match too. ``{key:yyyy/MM/dd}`` (v1's datetime
keys) matches that many digits and separators and keeps the text (``"2019/01/01"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from modelport.errors import InvalidInputError

__all__ = ["PartitionFormat", "encode_value"]

_KEY = re.compile(r"\{([^{}:]+)(?::([^{}]+))?\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]*$")
_DATE_PARTS = {
    "yyyy": r"\d{4}",
    "MM": r"\d{2}",
    "dd": r"\d{2}",
    "HH": r"\d{2}",
    "mm": r"\d{2}",
    "ss": r"\d{2}",
}


def _date_pattern(fmt: str) -> str:
    out, i = "", 0
    while i < len(fmt):
        for token, pattern in _DATE_PARTS.items():
            if fmt.startswith(token, i):
                out += pattern
                i += len(token)
                break
        else:
            out += re.escape(fmt[i])
            i += 1
    return out


def encode_value(value: object) -> str:
    """A partition value as one path segment (``partition_by`` writes folders named by values)."""
    return quote(str(value), safe=" -_.,=+@")


@dataclass(frozen=True)
class PartitionFormat:
    """A parsed ``partition_format``.

    Example::

        >>> fmt = PartitionFormat.parse("{user}/{season}/{genres}.wav")
        >>> fmt.keys
        ('user', 'season', 'genres')
        >>> fmt.values("/data/user1/winter/disco.wav")
        {'user': 'user1', 'season': 'winter', 'genres': 'disco'}
    """

    text: str
    keys: tuple[str, ...]
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, text: object) -> PartitionFormat:
        if not isinstance(text, str) or not text.strip("/"):
            raise InvalidInputError(
                f"partition_format must be a path pattern such as '{{user}}/{{season}}/*.wav', got {text!r}"
            )
        body = text.strip().lstrip("/")
        keys: list[str] = []
        pattern, pos = "", 0
        for m in _KEY.finditer(body):
            literal = body[pos : m.start()]
            pattern += _literal(literal)
            key, date = m.group(1).strip(), m.group(2)
            if not _NAME.match(key):
                raise InvalidInputError(f"partition_format {text!r}: {key!r} is not a valid key name")
            if key in keys:
                raise InvalidInputError(f"partition_format {text!r}: key {key!r} appears twice")
            keys.append(key)
            group = _date_pattern(date) if date else r"[^/]+"
            pattern += f"(?P<k{len(keys) - 1}>{group})"
            pos = m.end()
        pattern += _literal(body[pos:])
        if not keys:
            raise InvalidInputError(
                f"partition_format {text!r} names no partition key: write keys in braces, "
                "e.g. '{user}/*.wav'"
            )
        return cls(text, tuple(keys), re.compile(f"(?:^|/){pattern}$"))

    def values(self, path: str) -> dict[str, str] | None:
        """The partition values of ``path`` (a ``/``-separated path), or None if it does not match."""
        m = self.regex.search(path.replace("\\", "/"))
        if m is None:
            return None
        return {key: unquote(m.group(f"k{i}")) for i, key in enumerate(self.keys)}


def _literal(text: str) -> str:
    """A literal part of the format; ``*`` stands for any characters within one path segment and
    ``**`` for any run of folders."""
    return ".*".join("[^/]*".join(re.escape(piece) for piece in part.split("*")) for part in text.split("**"))
