"""modelport studio: a local web app over a workspace's models, environments and services.

``modelport studio`` serves it on 127.0.0.1 with a random token (printed as a URL). The pages
are static files shipped in this package (no build step, no CDN); they call a JSON API that
reads the registries and calls the deployment engine, holding no lifecycle logic of its own.

Example::

    from modelport.studio import create_app
    app = create_app(Workspace.get("demo"), token=secrets.token_urlsafe(32), port=8765)
"""

from __future__ import annotations

from modelport.studio.app import create_app
from modelport.studio.server import run

__all__ = ["create_app", "run"]
