"""The server behind published pipelines' endpoints (see :mod:`modelport.pipeline.core._endpoint`).

``python -m modelport.pipeline.core._endpoint_server WS_PATH WS_NAME PORT KEY_FILE``: a Starlette
app on uvicorn, bound to 127.0.0.1, that checks the ``Authorization`` header against the login key
in ``KEY_FILE`` (constant time) and starts a run of the published pipeline named in the path.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

from modelport.core.authentication import accepts
from modelport.errors import InvalidInputError, ModelportError, NotFoundError
from modelport.pipeline.core._endpoint import HOST, SUBMIT_PATH
from modelport.pipeline.core.published_pipeline import PublishedPipeline
from modelport.workspace import Workspace

__all__ = ["make_app", "submit_from_request"]

log = logging.getLogger("modelport.pipeline.endpoint")


def _parameters(ws: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    from modelport.core.dataset import Dataset
    from modelport.core.datastore import Datastore
    from modelport.data.datapath import DataPath

    given = body.get("ParameterAssignments") or {}
    if not isinstance(given, dict):
        raise InvalidInputError("ParameterAssignments must be an object of parameter names to values")
    values = dict(given)
    datasets = body.get("DataSetDefinitionValueAssignments") or {}
    if not isinstance(datasets, dict):
        raise InvalidInputError("DataSetDefinitionValueAssignments must be an object")
    for name, value in datasets.items():
        ref = (value or {}).get("SavedDataSetReference") if isinstance(value, dict) else None
        if not isinstance(ref, dict) or not isinstance(ref.get("Id"), str):
            raise InvalidInputError(
                f"DataSetDefinitionValueAssignments['{name}'] needs SavedDataSetReference.Id"
            )
        values[name] = Dataset.get_by_id(ws, ref["Id"])
    paths = body.get("DataPathAssignments") or {}
    for name, value in paths.items() if isinstance(paths, dict) else []:
        if not isinstance(value, dict) or "DataStoreName" not in value:
            raise InvalidInputError(f"DataPathAssignments['{name}'] needs DataStoreName and RelativePath")
        values[name] = DataPath(Datastore(ws, value["DataStoreName"]), value.get("RelativePath") or "")
    return values


def submit_from_request(ws: Workspace, pipeline_id: str, body: Any) -> dict[str, Any]:
    """Start a run of a published pipeline from a REST body; what the endpoint answers."""
    from modelport.core.experiment import Experiment

    if not isinstance(body, dict):
        raise InvalidInputError("the body must be a JSON object with ExperimentName")
    experiment = body.get("ExperimentName")
    if not isinstance(experiment, str) or not experiment:
        raise InvalidInputError("ExperimentName is required: the experiment the run belongs to")
    published = PublishedPipeline.get(ws, pipeline_id)
    tags = body.get("Tags")
    run = published._submit_to_experiment(
        Experiment(ws, experiment),
        tags=tags if isinstance(tags, dict) else None,
        pipeline_parameters=_parameters(ws, body),
        display_name=body.get("DisplayName"),
    )
    return {
        "Id": run.id,
        "ExperimentName": experiment,
        "PipelineId": pipeline_id,
        "Status": {"StatusCode": run.get_status()},
        "RunNumber": run.number,
    }


def make_app(ws: Workspace, key_file: Path) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": code, "message": message}}, status_code=status, headers=headers
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"workspace": str(ws.path)})

    async def submit(request: Request) -> JSONResponse:
        if not accepts(request.headers.get("authorization"), key_file):
            return error(
                401,
                "missing or wrong Authorization header: send "
                "InteractiveLoginAuthentication().get_authentication_header()",
                "Unauthorized",
                {"WWW-Authenticate": "Bearer"},
            )
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError as exc:
            return error(400, f"the body is not JSON: {exc}", "BadRequest")
        pipeline_id = request.path_params["pipeline_id"]
        from starlette.concurrency import run_in_threadpool

        try:
            answer = await run_in_threadpool(submit_from_request, ws, pipeline_id, body)
        except NotFoundError as exc:
            return error(404, str(exc), "NotFound")
        except InvalidInputError as exc:
            return error(400, str(exc), "BadRequest")
        except ModelportError as exc:
            log.error("pipeline %s: %s", pipeline_id, exc)
            return error(500, str(exc), "InternalError")
        except Exception:
            log.error("pipeline %s: unexpected error\n%s", pipeline_id, traceback.format_exc())
            return error(
                500, "the endpoint failed; see its log (<workspace>/pipelines/endpoint.log)", "InternalError"
            )
        log.info("pipeline %s: run %s in experiment %s", pipeline_id, answer["Id"], answer["ExperimentName"])
        return JSONResponse(answer)

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route(SUBMIT_PATH + "{pipeline_id}", submit, methods=["POST"]),
        ]
    )


def main(argv: list[str]) -> int:
    import uvicorn

    ws_path, ws_name, port, key_file = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ws = Workspace(ws_name, ws_path)
    uvicorn.run(
        make_app(ws, Path(key_file)), host=HOST, port=int(port), log_level="warning", access_log=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
