"""``AMLRequest`` and ``@rawhttp``: a v1 scoring script that wants the whole HTTP request.

Imported by scripts as ``modelport.contrib.services.aml_request`` (v1: ``azureml.contrib...``).

``AMLRequest`` behaves like the werkzeug request v1 passed (``.method``, ``.headers``, ``.args``,
``.get_data()``, ``.data``, ``.json``, ``.form``, ``.files``, ``.full_path``...), built over a
request whose body the server has already read. A ``multipart/form-data`` body (what
``requests.post(uri, files={"image": ...})`` sends) is parsed with the standard library's MIME
parser: ``request.files["image"]`` is a file-like :class:`FileStorage`, as werkzeug's.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import parse_qsl

import orjson

from modelport.errors import InvalidInputError, UnsupportedMediaType
from modelport.runtime.request import Headers, ScoringRequest

__all__ = ["AMLRequest", "FileStorage", "rawhttp"]

F = TypeVar("F", bound=Callable[..., Any])
RAWHTTP_ATTR = "__modelport_rawhttp__"
_MISSING = object()


def rawhttp(func: F) -> F:
    """Mark run() as taking the raw request: ``run(request: AMLRequest)``.

    Example::

        @rawhttp
        def run(request):
            if request.method != "POST":
                return AMLResponse("POST only", 405)
            return AMLResponse(request.get_data(as_text=True).upper(), 200)
    """
    setattr(func, RAWHTTP_ATTR, True)
    return func


def is_rawhttp(func: Callable[..., Any]) -> bool:
    """Whether ``func`` was decorated with :func:`rawhttp`."""
    return bool(getattr(func, RAWHTTP_ATTR, False))


class Args(dict[str, str]):
    """Query parameters like werkzeug's ``MultiDict``: ``[key]`` and ``get`` give the first value."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        super().__init__()
        self._lists: dict[str, list[str]] = {}
        for key, value in items:
            self._lists.setdefault(key, []).append(value)
            self.setdefault(key, value)

    def get(self, key: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
        """The first value of ``key``, converted by ``type`` if given (``default`` if that fails)."""
        if key not in self:
            return default
        value = self[key]
        if type is None:
            return value
        try:
            return type(value)
        except (TypeError, ValueError):
            return default

    def getlist(self, key: str) -> list[str]:
        """Every value of ``key``, in order."""
        return list(self._lists.get(key, []))

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        """First values (``flat=True``) or lists of values."""
        return dict(self) if flat else {k: list(v) for k, v in self._lists.items()}


class FileStorage:
    """One uploaded file of a multipart body, as werkzeug's ``FileStorage``: ``filename``,
    ``name``, ``content_type``, ``stream``, ``read()``, ``save(dst)``; anything else is the
    stream's, so ``PIL.Image.open(request.files["image"])`` reads it."""

    def __init__(self, data: bytes, name: str, filename: str | None, content_type: str | None) -> None:
        self.stream = io.BytesIO(data)
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.content_length = len(data)

    @property
    def mimetype(self) -> str:
        """The Content-Type without parameters, lower-case (``""`` when the part had none)."""
        return (self.content_type or "").split(";", 1)[0].strip().lower()

    def save(self, dst: str | Path | IO[bytes], buffer_size: int = 16384) -> None:
        """Write the file to a path or a binary file object."""
        self.stream.seek(0)
        if isinstance(dst, str | Path):
            with open(dst, "wb") as out:
                shutil.copyfileobj(self.stream, out, buffer_size)
        else:
            shutil.copyfileobj(self.stream, dst, buffer_size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)  # read, seek, tell, readline, getvalue, ...

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.stream)

    def __bool__(self) -> bool:
        return bool(self.filename)

    def __repr__(self) -> str:
        return f"<FileStorage: {self.filename!r} ({self.content_type!r})>"


class Files(dict[str, FileStorage]):
    """Uploaded files by field name, like werkzeug's ``MultiDict``: ``[name]`` the first,
    ``getlist(name)`` all of them."""

    def __init__(self, items: list[tuple[str, FileStorage]]) -> None:
        super().__init__()
        self._lists: dict[str, list[FileStorage]] = {}
        for key, value in items:
            self._lists.setdefault(key, []).append(value)
            self.setdefault(key, value)

    def getlist(self, key: str) -> list[FileStorage]:
        """Every file sent under ``key``, in order."""
        return list(self._lists.get(key, []))


def _multipart(content_type: str, body: bytes) -> tuple[list[tuple[str, str]], list[tuple[str, FileStorage]]]:
    """The fields and files of a ``multipart/form-data`` body (the standard library's MIME parser)."""
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise InvalidInputError("the multipart/form-data body has no parts (is its boundary right?)")
    fields: list[tuple[str, str]] = []
    files: list[tuple[str, FileStorage]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            charset = part.get_content_charset() or "utf-8"
            fields.append((name, data.decode(charset, "replace")))
        else:
            given = part.get("Content-Type")
            files.append((name, FileStorage(data, name, filename, str(given) if given else None)))
    return fields, files


class AMLRequest:
    """The HTTP request given to a ``@rawhttp`` run(), with werkzeug's request interface."""

    def __init__(self, request: ScoringRequest) -> None:
        self._request = request
        self.method: str = request.method
        self.path: str = request.path
        self.query_string: bytes = request.query_string
        self.scheme: str = request.scheme
        self.headers: Headers = request.headers()
        self.args: Args = Args(parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True))
        self.request_id: str = request.request_id
        self._json: Any = _MISSING
        self._body: bytes | None = None
        self._parts: tuple[list[tuple[str, str]], list[tuple[str, FileStorage]]] | None = None

    @property
    def _bytes(self) -> bytes:
        # werkzeug hands scripts ``bytes``; the server may have read a large body into a bytearray.
        if self._body is None:
            body = self._request.body
            self._body = body if isinstance(body, bytes) else bytes(body)
        return self._body

    # -- body -----------------------------------------------------------------------------------
    @property
    def data(self) -> bytes:
        """The body as bytes."""
        return self._bytes

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any:
        """The body, as bytes or (``as_text=True``) decoded as UTF-8 (bad bytes replaced)."""
        body = self._bytes
        return body.decode("utf-8", "replace") if as_text else body

    @property
    def stream(self) -> io.BytesIO:
        """The body as a readable binary stream."""
        return io.BytesIO(self._bytes)

    @property
    def is_json(self) -> bool:
        """Whether the mimetype is ``application/json`` or ``application/*+json``."""
        mt = self.mimetype
        return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The body parsed as JSON.

        Without ``force``, a non-JSON Content-Type raises UnsupportedMediaType (415), or returns
        None with ``silent=True``; a body that is not JSON raises InvalidInputError (400) or returns
        None with ``silent=True``.
        """
        if not (force or self.is_json):
            if silent:
                return None
            raise UnsupportedMediaType(f"expected Content-Type application/json, got '{self.mimetype}'")
        if self._json is _MISSING:
            try:
                self._json = orjson.loads(self._request.body)
            except orjson.JSONDecodeError:
                try:
                    self._json = json.loads(self._request.body)
                except ValueError as exc:
                    if silent:
                        return None
                    raise InvalidInputError(f"the request body is not valid JSON: {exc}") from exc
        return self._json

    @property
    def json(self) -> Any:
        """``get_json()``: the body parsed as JSON."""
        return self.get_json()

    @property
    def form(self) -> Args:
        """Fields of an ``application/x-www-form-urlencoded`` or ``multipart/form-data`` body
        (empty for other types; a multipart body's files are in :attr:`files`)."""
        if self.mimetype == "multipart/form-data":
            return Args(self._multipart()[0])
        if self.mimetype != "application/x-www-form-urlencoded":
            return Args([])
        return Args(parse_qsl(self._request.body.decode("utf-8", "replace"), keep_blank_values=True))

    @property
    def files(self) -> Files:
        """The files of a ``multipart/form-data`` body by field name (empty for other types).

        Example (v1's binary-data entry script; the client did ``requests.post(uri, files=...)``)::

            image = Image.open(request.files["image"]).convert("RGB")
        """
        if self.mimetype != "multipart/form-data":
            return Files([])
        return Files(self._multipart()[1])

    def _multipart(self) -> tuple[list[tuple[str, str]], list[tuple[str, FileStorage]]]:
        if self._parts is None:
            self._parts = _multipart(self.content_type or "", self._bytes)
        return self._parts

    @property
    def values(self) -> Args:
        """Query arguments and form fields together."""
        return Args([*self.args.items(), *self.form.items()])

    # -- headers and URL ------------------------------------------------------------------------
    @property
    def content_type(self) -> str | None:
        """The Content-Type header as sent."""
        return self.headers.get("Content-Type")

    @property
    def mimetype(self) -> str:
        """The Content-Type without parameters, lower-case (``""`` when absent)."""
        return (self.content_type or "").split(";", 1)[0].strip().lower()

    @property
    def content_length(self) -> int:
        """The length of the body in bytes."""
        return len(self._request.body)

    @property
    def host(self) -> str:
        """The Host header (or the server address)."""
        host = self.headers.get("Host")
        if host:
            return str(host)
        server = self._request.server
        return f"{server[0]}:{server[1]}" if server else ""

    @property
    def full_path(self) -> str:
        """Path and query string, werkzeug style (``/score?a=1``; ``/score?`` without a query)."""
        return f"{self.path}?{self.query_string.decode('latin-1')}"

    @property
    def base_url(self) -> str:
        """Scheme, host and path, without the query string."""
        return f"{self.scheme}://{self.host}{self.path}"

    @property
    def url(self) -> str:
        """The full URL of the request."""
        qs = self.query_string.decode("latin-1")
        return self.base_url + (f"?{qs}" if qs else "")

    @property
    def remote_addr(self) -> str | None:
        """The client's address."""
        client = self._request.client
        return client[0] if client else None

    @property
    def environ(self) -> dict[str, Any]:
        """A small WSGI-style environ, for scripts that peek at it."""
        return {
            "REQUEST_METHOD": self.method,
            "PATH_INFO": self.path,
            "QUERY_STRING": self.query_string.decode("latin-1"),
            "CONTENT_TYPE": self.content_type or "",
            "CONTENT_LENGTH": str(self.content_length),
            "REMOTE_ADDR": self.remote_addr or "",
            "wsgi.url_scheme": self.scheme,
        }

    def __repr__(self) -> str:
        return f"<AMLRequest {self.method} {self.full_path}>"
