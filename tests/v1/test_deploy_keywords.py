"""Every v1 deployment keyword is accepted; what means something here is applied (issue 22, part 3).

The programs follow v1's documentation: "Use TLS to secure a web service" (``ssl_enabled=True,
ssl_cert_pem_file="cert.pem", ssl_key_pem_file="key.pem", ssl_cname="www.contoso.com"``) and the
AKS deployment configuration table (probe timings, namespace, limits, gpu_cores), imports renamed.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
import warnings
from pathlib import Path

import pytest
import requests

from modelport.core import Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, AksWebservice, Webservice
from modelport.deploy.probes import PROBE_FILE, ProbeState, ProbeTimings, next_state
from modelport.errors import InvalidInputError

SCORE = """
import json

def init():
    pass

def run(raw_data):
    return {"sum": sum(json.loads(raw_data)["data"])}
"""

# Every keyword v1's AciWebservice/AksWebservice.deploy_configuration took that modelport refused
# before, with a production-looking value.
AZURE_ONLY = {
    "location": "westeurope",
    "dns_name_label": "contoso-scoring",
    "vnet_name": "prod-vnet",
    "subnet_name": "scoring",
    "cmk_vault_base_url": "https://contoso.vault.azure.net",
    "cmk_key_name": "scoring-key",
    "cmk_key_version": "0123456789abcdef",
}
AKS_ONLY = {
    "namespace": "scoring-prod",
    "cpu_cores_limit": 2,
    "memory_gb_limit": 4,
    "gpu_cores": 1,
    "period_seconds": 10,
    "initial_delay_seconds": 310,
    "timeout_seconds": 2,
    "success_threshold": 1,
    "failure_threshold": 3,
    "compute_target_name": "aks-prod",
    "blobfuse_enabled": True,
}


def self_signed(folder: Path, name: str = "cert") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (openssl's CLI)."""
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_every_keyword_is_accepted_and_typed(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls = {"ssl_enabled": True, "ssl_cert_pem_file": str(cert), "ssl_key_pem_file": str(key)}
    aci = AciWebservice.deploy_configuration(
        cpu_cores=1, memory_gb=1, ssl_cname="www.contoso.com", **tls, **AZURE_ONLY
    )
    assert aci.ssl_enabled and aci.ssl_cert_pem_file == str(cert.resolve())
    assert (aci.location, aci.cmk_key_version, aci.ssl_cname) == (
        "westeurope",
        "0123456789abcdef",
        "www.contoso.com",
    )
    aks = AksWebservice.deploy_configuration(cpu_cores=1, memory_gb=2, **tls, **AZURE_ONLY, **AKS_ONLY)
    assert (aks.namespace, aks.cpu_cores_limit, aks.memory_gb_limit, aks.gpu_cores) == (
        "scoring-prod",
        2.0,
        4.0,
        1,
    )
    assert (aks.period_seconds, aks.initial_delay_seconds, aks.failure_threshold) == (10, 310, 3)
    assert aks.blobfuse_enabled is True and aks.compute_target_name == "aks-prod"
    # The record keeps them (a service's spec is saved as JSON and read back).
    from modelport.deploy.configs import DeploymentSettings

    assert DeploymentSettings.from_dict(json.loads(json.dumps(aks.to_dict()))) == aks


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ssl_enabled": True}, "ssl_enabled=True needs ssl_cert_pem_file and ssl_key_pem_file"),
        (
            {"ssl_enabled": True, "ssl_cert_pem_file": "nope.pem"},
            "needs ssl_cert_pem_file and ssl_key_pem_file",
        ),
        ({"period_seconds": 0}, "period_seconds must be a positive integer"),
        ({"initial_delay_seconds": -1}, "initial_delay_seconds must be a whole number"),
        ({"gpu_cores": 0.5}, "gpu_cores must be a whole number"),
        ({"namespace": "Prod"}, "namespace must be a Kubernetes namespace name"),
        ({"cpu_cores": 2, "cpu_cores_limit": 1}, r"cpu_cores_limit \(1\) is below cpu_cores \(2\)"),
        ({"blobfuse_enabled": "yes"}, "blobfuse_enabled must be True or False"),
    ],
)
def test_bad_keyword_values_are_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as raised:
        AksWebservice.deploy_configuration(**kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(raised.value)


def test_bad_pem_files_are_named_before_deploying(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    other_cert, other_key = self_signed(tmp_path, "other")
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello")
    unreadable = tmp_path / "locked.pem"
    unreadable.write_bytes(key.read_bytes())
    unreadable.chmod(0)

    def refused(c: Path, k: Path) -> str:
        with pytest.raises(InvalidInputError) as raised:
            AciWebservice.deploy_configuration(
                ssl_enabled=True, ssl_cert_pem_file=str(c), ssl_key_pem_file=str(k)
            )
        assert "\n" not in str(raised.value) and "PRIVATE KEY" not in str(raised.value)
        return str(raised.value)

    missing = tmp_path / "missing.pem"
    assert refused(missing, key).startswith(f"ssl_cert_pem_file {missing} cannot be read")
    assert refused(cert, not_pem) == f"ssl_key_pem_file {not_pem} is not a PEM file (no '-----BEGIN' line)"
    assert refused(cert, other_key) == (
        f"ssl_key_pem_file {other_key} is not the key of the certificate in ssl_cert_pem_file {cert}"
    )
    if os.geteuid() != 0:  # root reads a 000 file anyway
        assert refused(cert, unreadable).startswith(f"ssl_key_pem_file {unreadable} cannot be read")
    assert other_cert.is_file()


@pytest.mark.process
def test_tls_served_with_the_given_files_and_verified(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cert, key = self_signed(tmp_path)
    Path("score.py").write_text(SCORE)
    Path("model.txt").write_text("w")
    ws = Workspace.create(name="tls-ws", exist_ok=True)
    model = Model.register(ws, "model.txt", "summer")
    config = AciWebservice.deploy_configuration(
        cpu_cores=1,
        memory_gb=1,
        auth_enabled=True,
        ssl_enabled=True,
        ssl_cert_pem_file="cert.pem",
        ssl_key_pem_file="cert-key.pem",
        ssl_cname="www.contoso.com",
        **AZURE_ONLY,
    )
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        service = Model.deploy(ws, "secure", [model], InferenceConfig(entry_script="score.py"), config)
    lines = [str(w.message) for w in said if w.category is UserWarning]
    assert len(lines) == 1 and lines[0].startswith("location, dns_name_label, vnet_name"), lines
    assert "recorded and shown in the service's details only" in lines[0]
    service.wait_for_deployment()
    uri = service.scoring_uri
    assert uri is not None and uri.startswith("https://127.0.0.1:")
    # The v1 client, over https, checking the service's certificate.
    assert service.run(json.dumps({"data": [1, 2, 3]})) == {"sum": 6}
    primary, _ = service.get_keys()
    headers = {"Authorization": f"Bearer {primary}", "Content-Type": "application/json"}
    body = json.dumps({"data": [4, 5]})
    answer = requests.post(uri, data=body, headers=headers, verify=str(cert), timeout=30)
    assert answer.status_code == 200 and answer.json() == {"sum": 9}
    with pytest.raises(requests.exceptions.SSLError):  # not trusted without the certificate
        requests.post(uri, data=body, headers=headers, timeout=30)
    with pytest.raises(requests.exceptions.ConnectionError):  # plain HTTP is not served
        requests.post(uri.replace("https://", "http://"), data=body, headers=headers, timeout=30)
    # The service serves 0600 copies; the key's content appears in no log, record or detail.
    record = service._record
    assert record.bundle_dir is not None
    for name in ("cert.pem", "key.pem"):
        copy = Path(record.bundle_dir) / "tls" / name
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert (Path(record.bundle_dir) / "tls" / "key.pem").read_bytes() == key.read_bytes()
    secret = key.read_text().splitlines()[1]
    shown = json.dumps(Webservice(ws, "secure").serialize())
    assert secret not in service.get_logs() and secret not in shown
    assert "PRIVATE KEY" not in shown
    details = Webservice(ws, "secure").serialize()
    keywords = details["deploymentKeywords"]
    assert keywords["ssl_enabled"] is True and keywords["location"] == "westeurope"
    assert keywords["ssl_key_pem_file"] == str(key.resolve())  # where it is, never what it holds
    assert details["keywordNotice"] == lines[0]
    # The v1 client's keep-alive TLS connection is open, and the server still stops by itself: it
    # waited for that client's TLS close_notify until the stop's 10 s deadline killed it (took 11.5
    # s; 0.5 s since). Under 8 s means it was not killed.
    started = time.monotonic()
    service.delete()
    assert time.monotonic() - started < 8


@pytest.mark.process
def test_probe_timings_drive_local_readiness(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """initial_delay_seconds=2, period_seconds=1, success_threshold=2: the service is ready no
    sooner than two probes a second apart after the first two seconds (Kubernetes' rule), and the
    bundle's probe.json records them. gpu_cores has no GPU here: recorded, said in the one line."""
    monkeypatch.chdir(tmp_path)
    Path("score.py").write_text(SCORE)
    Path("model.txt").write_text("w")
    ws = Workspace.create(name="probe-ws", exist_ok=True)
    model = Model.register(ws, "model.txt", "summer")
    config = AksWebservice.deploy_configuration(
        num_replicas=1,
        auth_enabled=False,
        initial_delay_seconds=2,
        period_seconds=1,
        success_threshold=2,
        timeout_seconds=5,
        gpu_cores=1,
        namespace="scoring-prod",
    )
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        service = Model.deploy(ws, "probed", [model], InferenceConfig(entry_script="score.py"), config)
    lines = [str(w.message) for w in said if w.category is UserWarning]
    assert any(line.startswith("namespace, gpu_cores: no effect on this machine") for line in lines), lines
    service.wait_for_deployment()
    record = service._record
    assert record.handle is not None and record.bundle_dir is not None
    started = float(record.handle["create_time"])
    probes = ProbeState.read(Path(record.bundle_dir) / PROBE_FILE)
    assert probes.ready and probes.probes >= 2 and probes.ready_since is not None
    assert probes.ready_since - started >= 3.0  # 2 s delay, then a second probe 1 s later
    assert service.run(json.dumps({"data": [1]})) == {"sum": 1}
    assert record.spec.settings.gpu_cores == 1
    service.delete()


def test_probe_rule_needs_thresholds_in_a_row() -> None:
    timings = ProbeTimings(success_threshold=2, failure_threshold=3)
    state = ProbeState()
    for now, answered, ready in [(1, True, False), (2, False, False), (3, True, False), (4, True, True)]:
        state = next_state(state, answered, float(now), timings)
        assert state.ready is ready, now
    assert state.ready_since == 4.0
    for now, ready in [(5, True), (6, True), (7, False)]:  # three failures in a row: not ready
        state = next_state(state, False, float(now), timings)
        assert state.ready is ready, now


def test_update_takes_v1_update_keywords(tmp_path: Path) -> None:
    from modelport.deploy.configs import update_settings

    cert, key = self_signed(tmp_path)
    start = AksWebservice.deploy_configuration(num_replicas=1)
    changed = update_settings(
        start,
        {
            "period_seconds": 5,
            "namespace": "ns",
            "gpu_cores": 2,
            "cpu_cores_limit": 1.5,
            "failure_threshold": 4,
        },
    )
    assert (changed.period_seconds, changed.namespace, changed.gpu_cores) == (5, "ns", 2)
    secured = update_settings(
        start, {"ssl_enabled": True, "ssl_cert_pem_file": str(cert), "ssl_key_pem_file": str(key)}
    )
    assert secured.ssl_enabled and secured.ssl_key_pem_file == str(key.resolve())
    with pytest.raises(InvalidInputError, match="cannot issue a certificate"):
        update_settings(start, {"ssl_enabled": True})
    with pytest.raises(InvalidInputError, match="unknown parameter"):
        update_settings(start, {"no_such_keyword": 1})


def test_positional_arguments_mean_what_they_meant_in_v1() -> None:
    aci = AciWebservice.deploy_configuration(1, 2, None, None, "d", "westeurope", True)
    assert (aci.cpu_cores, aci.memory_gb, aci.description, aci.location, aci.auth_enabled) == (
        1.0,
        2.0,
        "d",
        "westeurope",
        True,
    )
    aks = AksWebservice.deploy_configuration(
        False, None, None, None, None, None, False, 1, 1, None, None, None, None, 2
    )
    assert (aks.autoscale_enabled, aks.auth_enabled, aks.num_replicas, aks.workers) == (False, False, 2, 2)
