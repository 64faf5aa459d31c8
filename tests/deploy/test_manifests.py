"""The container and cluster files, checked statically: no container engine or cluster runs here.

hadolint (Dockerfile), yamllint and kubernetes-validate (Kubernetes' own schemas, strict) come
from the `test` extra; the tests below then load the YAML and check what a linter cannot know:
probes on Streamlit's health path, cookie affinity and websocket timeouts at the Ingress, the
HPA aimed at the Deployment, and a GPU variant that differs from the CPU one in its GPU parts only.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.replicas import ROUTE_COOKIE, max_upload_mb

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
MANIFESTS = sorted(K8S.glob("*.yaml")) + sorted((K8S / "gpu").glob("*.yaml"))
HEALTH_PATH = "/_stcore/health"
PORT = 8501
WEBSOCKET_TIMEOUT_S = 3600
INGRESS = "nginx.ingress.kubernetes.io/"


def _tool(name: str) -> str:
    """A command-line tool of the `test` extra, from this interpreter's environment first."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: pip install -e '.[test]'", pytrace=False)
    return found


def _clean(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _port_number(container: dict[str, Any], port: int | str) -> int:
    """A port by number or by name, as probes and Services may give it."""
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    return _load(K8S / "deployment.yaml")


@pytest.fixture(scope="module")
def gpu_deployment() -> dict[str, Any]:
    return _load(K8S / "gpu" / "deployment.yaml")


# -- the linters --------------------------------------------------------------------------------
def test_dockerfile_passes_hadolint() -> None:
    _clean([_tool("hadolint"), str(DOCKERFILE)])


def test_yaml_passes_yamllint() -> None:
    _clean([sys.executable, "-m", "yamllint", "--strict", "-c", ".yamllint", "deploy", ".yamllint"])


def test_manifests_match_the_kubernetes_schemas() -> None:
    assert {p.name for p in MANIFESTS} >= {"deployment.yaml", "service.yaml", "ingress.yaml",
                                           "hpa.yaml"}  # fmt: skip
    _clean([sys.executable, "-m", "kubernetes_validate", "--strict", *map(str, MANIFESTS)])


# -- what matters -------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["deployment", "gpu_deployment"])
def test_probes_ask_streamlit_health(variant: str, request: pytest.FixtureRequest) -> None:
    container = _container(request.getfixturevalue(variant))
    for probe in ("readinessProbe", "livenessProbe"):
        check = container[probe]["httpGet"]
        assert check["path"] == HEALTH_PATH, probe
        assert _port_number(container, check["port"]) == PORT, probe


def test_workers_fit_the_cpu_limit(deployment: dict[str, Any]) -> None:
    # In a container os.cpu_count() is the node's, so the pod must say how many workers it runs.
    container = _container(deployment)
    env = {e["name"]: e.get("value") for e in container["env"]}
    cpus = int(container["resources"]["limits"]["cpu"])
    assert 1 <= int(env["DLCS_WORKERS"]) <= max(1, cpus - 1)
    assert container["resources"]["requests"]["memory"]


def test_ingress_pins_sessions_by_cookie_and_keeps_websockets_open() -> None:
    notes = _load(K8S / "ingress.yaml")["metadata"]["annotations"]
    assert notes[INGRESS + "affinity"] == "cookie"
    assert notes[INGRESS + "affinity-mode"] == "persistent"
    assert notes[INGRESS + "session-cookie-name"] == ROUTE_COOKIE
    assert int(notes[INGRESS + "proxy-read-timeout"]) >= WEBSOCKET_TIMEOUT_S
    assert int(notes[INGRESS + "proxy-send-timeout"]) >= WEBSOCKET_TIMEOUT_S
    assert notes[INGRESS + "proxy-body-size"] == f"{max_upload_mb()}m"


def test_ingress_reaches_the_pods_through_the_service(deployment: dict[str, Any]) -> None:
    service = _load(K8S / "service.yaml")
    (rule,) = _load(K8S / "ingress.yaml")["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    backend = path["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    (port,) = service["spec"]["ports"]
    assert backend["port"] == {"name": port["name"]}
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert _port_number(_container(deployment), port["targetPort"]) == PORT


def test_hpa_scales_the_deployment_on_cpu(deployment: dict[str, Any]) -> None:
    spec = _load(K8S / "hpa.yaml")["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": deployment["apiVersion"],
                                      "kind": "Deployment",
                                      "name": deployment["metadata"]["name"]}  # fmt: skip
    (metric,) = spec["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 100
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]


def test_gpu_variant_differs_in_its_gpu_parts_only(
    deployment: dict[str, Any], gpu_deployment: dict[str, Any]
) -> None:
    gpu = copy.deepcopy(gpu_deployment)
    pod = gpu["spec"]["template"]["spec"]
    assert pod.pop("nodeSelector")
    assert any(t["key"] == "nvidia.com/gpu" for t in pod.pop("tolerations"))
    container = _container(gpu)
    assert container["resources"]["limits"].pop("nvidia.com/gpu") == 1
    assert container["image"].endswith(":cuda")
    assert _container(deployment)["image"].endswith(":cpu")
    container["image"] = _container(deployment)["image"]
    assert gpu == deployment


# -- the image ----------------------------------------------------------------------------------
def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and line[0] != "#")
    ]


def test_image_is_cpu_by_default_and_cuda_by_argument() -> None:
    steps = _instructions(DOCKERFILE)
    assert ("FROM", "python:3.11-slim") in steps
    assert ("ARG", "TORCH_BUILD=cpu") in steps
    torch = next(args for word, args in steps if word == "RUN" and "torch==" in args)
    assert "download.pytorch.org/whl/${TORCH_BUILD}" in torch


def test_image_runs_the_app_as_the_pods_user_with_a_health_check(
    deployment: dict[str, Any],
) -> None:
    steps = dict(_instructions(DOCKERFILE))  # the last of each instruction, as Docker does
    assert steps["USER"] == str(deployment["spec"]["template"]["spec"]["securityContext"]
                                ["runAsUser"])  # fmt: skip
    assert steps["USER"] != "0"
    assert HEALTH_PATH in steps["HEALTHCHECK"] and f":{PORT}" in steps["HEALTHCHECK"]
    assert steps["EXPOSE"] == str(PORT)
    command = yaml.safe_load(steps["CMD"])  # the JSON form: a list
    assert command[:3] == ["streamlit", "run", "app.py"]
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    assert command[command.index("--server.port") + 1] == str(PORT)


def test_build_context_keeps_what_the_image_copies() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = [
        source
        for word, args in _instructions(DOCKERFILE)
        if word == "COPY"
        for source in args.split()[:-1]
    ]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert Path(source).parts[0] not in ignored, source
    assert {".git", ".venv", "tests"} <= ignored
