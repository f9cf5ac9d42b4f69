"""Leaving the laptop: a service bundle as a Docker build context, and as Kubernetes, KServe and
KubeRay manifests (``Model.package``, ``Webservice.export``, ``modelport package|export``).

The build context is the engine's own bundle (:func:`modelport.deploy.bundle.prepare`) plus a
Dockerfile, the locks and the image's server settings (:mod:`.context`); the manifests are
renderers over the service's deployment settings (:mod:`.manifests`). Nothing is imported here,
so the image's HEALTHCHECK (``python -m modelport.deploy.export.probe``) starts fast.
"""
