"""v1's ``Webservice`` and ``Model`` members beyond the deployment notebooks' cells (issue 22,
part 2), on a real local service: tags and properties in place, the existence check before a
deployment, ``deserialize``, v1's image-config local deployment, and the attributes v1 code reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.core import Workspace
from modelport.core.image import ContainerImage
from modelport.core.model import Model
from modelport.core.webservice import LocalWebservice, UnknownWebservice, Webservice
from modelport.exceptions import NotSupported, WebserviceException

pytestmark = pytest.mark.process

SCORE = """
def init():
    pass

def run(raw_data):
    import json
    return {"n": len(json.loads(raw_data)["data"])}
"""


def test_v1_service_members_on_a_local_service(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("model.txt").write_text("w")
    Path("score.py").write_text(SCORE)
    ws = Workspace.create(name="svc-members", exist_ok=True)
    model = Model.register(ws, model_path="model.txt", model_name="m", tags={"team": "a"})

    # v1's deployment from an image configuration (ContainerImage.image_configuration)
    image_config = ContainerImage.image_configuration(execution_script="score.py", runtime="python")
    service = Webservice.deploy_local_from_model(ws, "svc", [model], image_config, wait=True)
    assert isinstance(service, LocalWebservice) and isinstance(service, UnknownWebservice)
    assert service.state == LocalWebservice.STATE_RUNNING
    assert service.run(json.dumps({"data": [1, 2]})) == {"n": 2}
    assert service.image_id is None and LocalWebservice.NETWORK_NAME is None
    from tests.v1.test_v1_attribute_reads import unreadable

    for name in ("Webservice", "LocalWebservice"):
        assert not unreadable(service, "azureml.core.webservice", name), unreadable(
            service, "azureml.core.webservice", name
        )

    service.add_tags({"stage": "dev"})
    service.add_properties({"owner": "me"})
    service.add_properties({"owner": "someone else"})  # as v1: a property keeps its first value
    again = Webservice(ws, "svc")
    assert again.tags == {"stage": "dev"} and again.properties["owner"] == "me"
    again.remove_tags(["stage"])
    assert Webservice(ws, "svc").tags == {}

    assert Webservice.deserialize(ws, again.serialize()).scoring_uri == service.scoring_uri
    with pytest.raises(WebserviceException, match="already exists"):
        Webservice.check_for_existing_webservice(ws, "svc")
    Webservice.check_for_existing_webservice(ws, "other")  # none of that name: nothing to say
    Webservice.check_for_existing_webservice(ws, "svc", overwrite=True)  # deletes it
    with pytest.raises(WebserviceException, match="not found"):
        Webservice(ws, "svc")
    with pytest.raises(NotSupported, match=r"Model\.deploy"):
        Webservice.deploy_from_image(ws, "svc", None)
