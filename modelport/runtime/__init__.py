"""Inside a service: load the entry script by path, call init() once, call run() per request.

The runtime never imports a web framework: the server hands it a :class:`ScoringRequest` and gets
back a :class:`Scored` response.
"""

from __future__ import annotations

from modelport.runtime.arrays import ArraySpec, array_input
from modelport.runtime.encode import Encoded, dumps, encode_result
from modelport.runtime.loader import ScriptLocation, load_module
from modelport.runtime.model_path import default_model_dir, get_model_path
from modelport.runtime.request import Headers, ScoringRequest
from modelport.runtime.schema import RunSchema, inspect_run
from modelport.runtime.script import InputStyle, Scored, ScoringScript

__all__ = [
    "ArraySpec",
    "Encoded",
    "Headers",
    "InputStyle",
    "RunSchema",
    "Scored",
    "ScoringRequest",
    "ScoringScript",
    "ScriptLocation",
    "array_input",
    "default_model_dir",
    "dumps",
    "encode_result",
    "get_model_path",
    "inspect_run",
    "load_module",
]
