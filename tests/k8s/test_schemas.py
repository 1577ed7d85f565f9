"""The manifests against the schemas an API server checks them with, in strict mode.

RayCluster and RayJob: the ``ray.io/v1`` schemas of KubeRay v1.7.0's CRDs (beside the checkout),
with every object that lists its properties closed to others, as ``kubectl apply
--validate=strict`` is. The PersistentVolumeClaim and the pod templates (head, workers,
submitter): Kubernetes' own schemas, as the ``kubernetes-validate`` package bundles them.
A misspelled field is caught by both.
"""
import copy
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from conftest import SHARED

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
KUBERAY = SHARED / "kuberay"
KUBERNETES = "1.30"
"""The Kubernetes version whose schemas the core objects are checked against (KubeRay 1.7 supports it)."""
CRDS = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml"}


def _strict(schema):
    """``schema`` with ``additionalProperties: false`` wherever an object lists its properties and
    neither allows others nor preserves unknown fields."""
    schema = copy.deepcopy(schema)

    def close(node):
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


@pytest.fixture(scope="module")
def crd_schemas():
    if not KUBERAY.is_dir():
        pytest.skip("KubeRay CRDs not present beside the checkout")
    schemas = {}
    for kind, name in CRDS.items():
        crd = yaml.safe_load((KUBERAY / name).read_text())
        [v1] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
        schemas[kind] = _strict(v1["schema"]["openAPIV3Schema"])
    return schemas


def _documents():
    for path in sorted(K8S.glob("*.yaml")):
        for number, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document is not None:
                yield pytest.param(document, id=f"{path.name}#{number}")


def _errors(document, crd_schemas):
    """Every schema error of one manifest document: its CRD's for KubeRay kinds, Kubernetes' for the rest,
    and Kubernetes' for each pod template inside a KubeRay object."""
    kind = document.get("kind")
    if kind in crd_schemas:
        found = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                 for e in jsonschema.Draft4Validator(crd_schemas[kind]).iter_errors(document)]
        for where, template in _pod_templates(document):
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "template"}, "spec": template["spec"]}
            found += [f"{where}: {e}" for e in _core_errors(pod)]
        return found
    return _core_errors(document)


def _core_errors(document):
    try:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as err:
        return [f"{'.'.join(map(str, err.path))}: {err.message}"]
    return []


def _pod_templates(document):
    spec = document["spec"]
    if document["kind"] == "RayJob":
        if "submitterPodTemplate" in spec:
            yield "spec.submitterPodTemplate", spec["submitterPodTemplate"]
        spec = spec["rayClusterSpec"]
    yield "headGroupSpec.template", spec["headGroupSpec"]["template"]
    for group in spec["workerGroupSpecs"]:
        yield f"workerGroupSpecs[{group['groupName']}].template", group["template"]


@pytest.mark.parametrize("document", list(_documents()))
def test_every_manifest_document_passes_its_schemas_in_strict_mode(document, crd_schemas):
    assert _errors(document, crd_schemas) == []


def test_every_manifest_is_checked():
    kinds = sorted(p.values[0]["kind"] for p in _documents())
    assert kinds == ["PersistentVolumeClaim", "RayCluster", "RayJob"]


@pytest.mark.parametrize("name, misspell", [
    ("raycluster.yaml", lambda d: d["spec"].update(enableInTreeAutoscalling=True)),  # a KubeRay field
    ("raycluster.yaml", lambda d: d["spec"]["workerGroupSpecs"][0].update(maxReplica=8)),
    ("rayjob.yaml", lambda d: d["spec"].update(shutdownAfterJobFinish=True)),
    ("raycluster.yaml", lambda d: d["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0].update(
        volumeMount=[])),  # a pod field, inside the template
    ("rayjob.yaml", lambda d: d["spec"]["submitterPodTemplate"]["spec"].update(restartPolcy="Never")),
    ("pvc.yaml", lambda d: d["spec"].update(accesModes=["ReadWriteMany"])),  # a core object
])
def test_a_misspelled_field_is_caught(name, misspell, crd_schemas):
    document = yaml.safe_load((K8S / name).read_text())
    assert _errors(document, crd_schemas) == []
    misspell(document)
    errors = _errors(document, crd_schemas)
    assert errors, f"the misspelling in {name} went through"
