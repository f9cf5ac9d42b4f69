"""v1's ``azureml.core.authentication``: the header that calls a published pipeline's REST endpoint.

v1 signed you in to Azure and gave a bearer token for the workspace's REST APIs. Locally the one
you are signed in as is the owner of ``$MODELPORT_HOME``: a key made with ``secrets`` on first use
and kept in ``$MODELPORT_HOME/keys/login.json`` (mode 0600). Every published-pipeline endpoint of
the workspaces under that home accepts it (compared in constant time); a call without it gets 401.

Example (v1's publish-and-run cell, ``azureml`` renamed)::

    from modelport.core.authentication import InteractiveLoginAuthentication
    auth = InteractiveLoginAuthentication()
    response = requests.post(published_pipeline.endpoint, headers=auth.get_authentication_header(),
                             json={"ExperimentName": "My_Pipeline",
                                   "ParameterAssignments": {"pipeline_arg": 45}})
"""

from __future__ import annotations

import hmac
import os
from enum import Enum
from pathlib import Path
from typing import Any

from modelport import _settings
from modelport import keys as keyfile
from modelport._refused import refused, refused_method
from modelport.errors import NotSupported, StorageError

__all__ = [
    "AbstractAuthentication",
    "ArmTokenAuthentication",
    "Audience",
    "AzureCliAuthentication",
    "AzureMLTokenAuthentication",
    "InteractiveLoginAuthentication",
    "MsiAuthentication",
    "ServicePrincipalAuthentication",
    "TokenAuthentication",
]

_NO_AAD = (
    "there is no Azure AD here to issue tokens; modelport's endpoints take "
    "InteractiveLoginAuthentication().get_authentication_header()"
)


def login_key_file(home: Path | None = None) -> Path:
    """The file holding the login key of ``home`` (default: ``$MODELPORT_HOME``)."""
    return (home or _settings.home()) / "keys" / "login.json"


def login_key(home: Path | None = None) -> str:
    """The login key of ``home``, made on first use (0600, from ``secrets``)."""
    path = login_key_file(home)
    if not path.is_file():
        # Written beside, then linked into place: of two processes making it at once, one key wins
        # and both return it (a plain replace would leave the first caller with a dead key).
        tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
        keyfile.write_keys(tmp, keyfile.new_keys())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    stored = keyfile.read_keys(path).primary_key
    if not stored:
        raise StorageError(f"the login key file {path} holds no key; delete it to make a new one")
    return stored


def accepts(header_value: str | None, key_file: Path) -> bool:
    """Whether an ``Authorization`` header value carries the key in ``key_file`` (constant time)."""
    if not header_value or not key_file.is_file():
        return False
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    expected = keyfile.read_keys(key_file).primary_key
    return bool(expected) and hmac.compare_digest(token.strip().encode(), expected.encode())


class AbstractAuthentication:
    """What every authentication gives: the header for modelport's REST endpoints."""

    def get_authentication_header(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <key>"}``: what a published pipeline's endpoint accepts."""
        return {"Authorization": f"Bearer {login_key()}"}

    get_token = refused_method("get_token", _NO_AAD)
    signed_session = refused_method("signed_session", _NO_AAD)


class InteractiveLoginAuthentication(AbstractAuthentication):
    """The signed-in user: locally, the owner of ``$MODELPORT_HOME`` (nothing to sign in to)."""

    def __init__(
        self, force: bool = False, tenant_id: str | None = None, cloud: str | None = None, **_v1: Any
    ):
        self.tenant_id = tenant_id


class AzureCliAuthentication(AbstractAuthentication):
    """v1's ``az login`` identity: locally the same as :class:`InteractiveLoginAuthentication`."""

    def __init__(self, cloud: str | None = None, **_v1: Any) -> None:
        pass


class ServicePrincipalAuthentication(AbstractAuthentication):
    """Refused: there is no Azure AD to hold a service principal."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        raise NotSupported(
            "ServicePrincipalAuthentication: a local workspace has no Azure AD service principals; use "
            "InteractiveLoginAuthentication().get_authentication_header(), whose key is in "
            f"{login_key_file()} (give that file to the automation that calls the endpoint)"
        )


class MsiAuthentication(AbstractAuthentication):
    """Refused: there is no managed identity on this machine."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        raise NotSupported(
            "MsiAuthentication: there is no Azure managed identity here; use "
            "InteractiveLoginAuthentication().get_authentication_header()"
        )


class Audience(Enum):
    """Whom a v1 token was for (``TokenAuthentication``'s audiences)."""

    ARM = "ARM"
    AZUREML = "AZUREML"


_M = "modelport.core.authentication"
TokenAuthentication = refused("TokenAuthentication", _NO_AAD, _M)
ArmTokenAuthentication = refused("ArmTokenAuthentication", _NO_AAD, _M)
AzureMLTokenAuthentication = refused("AzureMLTokenAuthentication", _NO_AAD, _M)
