"""v1's deployment keywords beyond sizing and auth: TLS, probe timings, Kubernetes placement and
limits, and Azure-only placement, networking and encryption settings.

Every one is accepted (one refused keyword stopped a whole v1 program) and lands in a typed field
of :class:`~modelport.deploy.configs.DeploymentSettings`, checked here:

- applied: TLS (``ssl_enabled`` with ``ssl_cert_pem_file``/``ssl_key_pem_file``: the local target
  serves HTTPS with them), probe timings (the local target's readiness and the export's Kubernetes
  probes), ``namespace``/``cpu_cores_limit``/``memory_gb_limit``/``gpu_cores`` (the export's
  manifests; ``gpu_cores`` also the Ray target's ``num_gpus``);
- recorded and shown, with one line at deployment saying they act nowhere here (:data:`RECORDED`);
- refused only where accepting would mislead about security: ``ssl_enabled=True`` without
  certificate files (v1 had Azure issue one; a service believed to be TLS would be plain HTTP).
"""

from __future__ import annotations

import os
import re
import ssl
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError

__all__ = [
    "KEYWORDS",
    "PROBES",
    "RECORDED",
    "check_tls_files",
    "copy_tls_files",
    "deploy_notice",
    "given_keywords",
    "keyword_fields",
]

PROBES = (
    "period_seconds",
    "initial_delay_seconds",
    "timeout_seconds",
    "success_threshold",
    "failure_threshold",
)
"""v1's AKS probe timings, in the order v1 documents them."""

RECORDED: dict[str, str] = {
    # keyword -> what it does on Azure (said in the one line at deployment)
    "location": "Azure region",
    "dns_name_label": "Azure DNS name",
    "vnet_name": "Azure virtual network",
    "subnet_name": "Azure subnet",
    "cmk_vault_base_url": "Azure Key Vault encryption",
    "cmk_key_name": "Azure Key Vault encryption",
    "cmk_key_version": "Azure Key Vault encryption",
    "compute_target_name": "AKS cluster name",
    "blobfuse_enabled": "AKS blob storage mount",
    "ssl_cname": "the certificate's DNS name",
}
"""Keywords recorded and shown that have no effect on this machine nor in the export."""

_TLS = ("ssl_enabled", "ssl_cert_pem_file", "ssl_key_pem_file")
_KUBERNETES = ("namespace", "cpu_cores_limit", "memory_gb_limit", "gpu_cores")
KEYWORDS = (*_TLS, *PROBES, *_KUBERNETES, *RECORDED)
"""Every keyword this module checks (what ``_CLOUD_ONLY`` refused before)."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _whole(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum > 0 else "a whole number >= 0"
        raise InvalidInputError(f"{name} must be {what}, got {value!r}")
    return value


def _amount(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
        raise InvalidInputError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise InvalidInputError(f"{name} must be a non-empty printable string, got {value!r}")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {value!r}")
    return value


def _namespace(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.match(value):
        raise InvalidInputError(
            f"namespace must be a Kubernetes namespace name (lowercase letters, digits and '-', "
            f"at most 63 characters), got {value!r}"
        )
    return value


def _pem_path(name: str, value: Any) -> str:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise InvalidInputError(f"{name} must be the path of a PEM file, got {value!r}")
    return str(Path(value).expanduser().resolve())


def keyword_fields(given: dict[str, Any]) -> dict[str, Any]:
    """The settings fields for the keywords in ``given`` that are set (None leaves a field as it
    is; so does False for ``blobfuse_enabled``). Each value is checked on its own here; what needs
    several (TLS's files, limits against requests) is :func:`check_settings`'s."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        if name == "ssl_enabled":
            out[name] = _bool(name, value)
        elif name in ("ssl_cert_pem_file", "ssl_key_pem_file"):
            out[name] = _pem_path(name, value)
        elif name == "initial_delay_seconds":
            out[name] = _whole(name, value, 0)
        elif name in PROBES:
            out[name] = _whole(name, value, 1)
        elif name == "namespace":
            out[name] = _namespace(value)
        elif name in ("cpu_cores_limit", "memory_gb_limit"):
            out[name] = _amount(name, value)
        elif name == "gpu_cores":
            out[name] = _whole(name, value, 0)
        elif name == "blobfuse_enabled":
            out[name] = _bool(name, value)
        elif name in RECORDED:
            out[name] = _text(name, value)
        else:  # a caller's bug, not the user's: every name passed here is one of KEYWORDS
            raise InvalidInputError(f"unknown parameter {name}")
    return out


def check_settings(settings: Any) -> None:
    """What a combination of keywords must hold (``settings``: a DeploymentSettings)."""
    if settings.ssl_enabled:
        if not settings.ssl_cert_pem_file or not settings.ssl_key_pem_file:
            raise InvalidInputError(
                "ssl_enabled=True needs ssl_cert_pem_file and ssl_key_pem_file: modelport cannot issue a "
                "certificate (v1's Azure-issued one), and without one the service would be plain HTTP"
            )
        check_tls_files(settings.ssl_cert_pem_file, settings.ssl_key_pem_file)
    for limit, request in (("cpu_cores_limit", "cpu_cores"), ("memory_gb_limit", "memory_gb")):
        high, low = getattr(settings, limit), getattr(settings, request)
        if high is not None and low is not None and high < low:
            raise InvalidInputError(f"{limit} ({high:g}) is below {request} ({low:g}); a limit cannot be")


def check_tls_files(cert: str | Path, key: str | Path) -> None:
    """The certificate and key are readable PEM files that belong together (the server would
    fail to start otherwise); one line naming the file that is not. Their content is never shown."""
    for name, path in (("ssl_cert_pem_file", cert), ("ssl_key_pem_file", key)):
        try:
            head = Path(path).read_bytes()[:65536]
        except OSError as exc:
            raise InvalidInputError(f"{name} {path} cannot be read: {exc.strerror or exc}") from None
        if b"-----BEGIN " not in head:
            raise InvalidInputError(f"{name} {path} is not a PEM file (no '-----BEGIN' line)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        # OpenSSL says which: "KEY_VALUES_MISMATCH", a key that does not parse, ...
        reason = (exc.reason or str(exc)).lower().replace("_", " ")
        if "mismatch" in reason:
            raise InvalidInputError(
                f"ssl_key_pem_file {key} is not the key of the certificate in ssl_cert_pem_file {cert}"
            ) from None
        which = (
            ("ssl_key_pem_file", key)
            if "key" in reason or "pem lib" in reason
            else ("ssl_cert_pem_file", cert)
        )
        raise InvalidInputError(f"{which[0]} {which[1]} cannot be used for TLS ({reason})") from None


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start (never readable by others, even for a moment), then filled.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)


def copy_tls_files(cert: str | Path, key: str | Path, folder: Path) -> tuple[Path, Path, Path]:
    """Checked 0600 copies of the certificate and key in ``folder`` (made 0700), and a trust file
    for clients of the service: the certificate (a self-signed one is its own anchor) followed by
    the CA bundle ``requests`` trusts (a CA-issued one verifies as anywhere). Returns the paths
    (certificate, key, trust file). The service keeps serving its copies if the originals change."""
    check_tls_files(cert, key)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    cert_copy, key_copy, trust = folder / "cert.pem", folder / "key.pem", folder / "trust.pem"
    cert_bytes = Path(cert).read_bytes()
    _write_private(cert_copy, cert_bytes)
    _write_private(key_copy, Path(key).read_bytes())
    import certifi  # requests' own CA bundle (a dependency of requests)

    roots = Path(certifi.where()).read_bytes()
    _write_private(trust, cert_bytes.rstrip(b"\n") + b"\n" + roots)
    return cert_copy, key_copy, trust


def given_keywords(settings: Any) -> dict[str, Any]:
    """The keywords of this module a deployment set, as given (file paths, never their content):
    what service details show."""
    return {
        name: getattr(settings, name)
        for name in KEYWORDS
        if getattr(settings, name, None) not in (None, False)
    }


def deploy_notice(settings: Any) -> str | None:
    """The one line a deployment says about keywords that do not act where it runs (None if it
    set none): Kubernetes-only ones act in the export; Azure-only ones are recorded and shown.
    ``gpu_cores`` acts on a Ray target (``settings.compute_target``), not on this machine."""
    on_ray = bool(getattr(settings, "compute_target", None))
    export_only = [
        name
        for name in _KUBERNETES
        if getattr(settings, name, None) is not None and not (on_ray and name == "gpu_cores")
    ]
    recorded = [name for name in RECORDED if getattr(settings, name, None) not in (None, False)]
    parts = []
    if export_only:
        where = "the Ray target" if on_ray else "this machine"
        parts.append(
            f"{', '.join(export_only)}: no effect on {where}, applied in the Kubernetes manifests of "
            "`modelport service export`"
        )
    if recorded:
        what = sorted({RECORDED[name] for name in recorded})
        parts.append(
            f"{', '.join(recorded)}: recorded and shown in the service's details only "
            f"(on Azure they set the {', '.join(what)})"
        )
    return "; ".join(parts) or None
