"""The KubeRay manifests and the container recipe: they parse, name files that exist, agree
with each other, and request what the statistics actors ask Ray for."""
import re
import shlex
from pathlib import Path

import pytest
import yaml

from cbred_ray.config import load_config
from cbred_ray.pipeline.runtime import plan_actors

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
IMAGE_ROOT = "/home/ray/cbred-ray/"


def _load(name):
    return yaml.safe_load((K8S / name).read_text())


def _in_repo(path):
    assert path.startswith(IMAGE_ROOT), path
    return REPO / path[len(IMAGE_ROOT):]


def _quantity(value):
    return float(str(value).removesuffix("m")) / (1000 if str(value).endswith("m") else 1)


def _pods(spec):
    yield spec["headGroupSpec"]["template"]["spec"]
    for group in spec["workerGroupSpecs"]:
        yield group["template"]["spec"]


def test_manifests_parse_as_the_kinds_they_claim():
    assert (_load("raycluster.yaml")["apiVersion"], _load("raycluster.yaml")["kind"]) == ("ray.io/v1", "RayCluster")
    assert (_load("rayjob.yaml")["apiVersion"], _load("rayjob.yaml")["kind"]) == ("ray.io/v1", "RayJob")
    assert _load("pvc.yaml")["kind"] == "PersistentVolumeClaim"


def test_the_job_and_the_cluster_describe_the_same_cluster():
    assert _load("rayjob.yaml")["spec"]["rayClusterSpec"] == _load("raycluster.yaml")["spec"]


def test_the_entrypoint_and_its_config_exist_in_the_repository():
    words = shlex.split(_load("rayjob.yaml")["spec"]["entrypoint"])
    assert words[0] == "python" and _in_repo(words[1]).is_file()
    config = _in_repo(words[words.index("--config") + 1])
    assert load_config(config).name == config.stem  # exists and validates
    assert words[words.index("--out") + 1].startswith("/mnt/stores/")


def test_the_ray_version_matches_the_image():
    version = re.search(r"^ARG RAY_VERSION=(\S+)$", (K8S / "Dockerfile").read_text(), re.M).group(1)
    for name in ("raycluster.yaml", "rayjob.yaml"):
        manifest = _load(name)
        spec = manifest["spec"].get("rayClusterSpec", manifest["spec"])
        assert spec["rayVersion"] == version


def test_every_file_the_image_copies_exists():
    for line in (K8S / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY"):
            sources = [w for w in line.split()[1:-1] if not w.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), source


def test_every_pod_mounts_the_shared_store_the_claim_defines():
    claim = _load("pvc.yaml")
    assert "ReadWriteMany" in claim["spec"]["accessModes"]
    for pod in _pods(_load("raycluster.yaml")["spec"]):
        volumes = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for c in pod["containers"] for m in c["volumeMounts"]}
        assert volumes[mounts["/mnt/stores"]] == claim["metadata"]["name"]


@pytest.mark.parametrize("config", ["nb201_cifar100_full.yaml", "nb201_cifar100.yaml"])
def test_gpu_workers_request_what_the_statistics_actors_ask_for(config):
    spec = _load("raycluster.yaml")["spec"]
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"  # actors and tasks go to the workers
    [group] = spec["workerGroupSpecs"]
    [container] = group["template"]["spec"]["containers"]
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    gpus = int(limits["nvidia.com/gpu"])
    assert gpus >= 1 and int(requests["nvidia.com/gpu"]) == gpus
    cpus = _quantity(requests["cpu"])
    resources = load_config(REPO / "configs" / config).resources
    plan = plan_actors(resources, {"GPU": group["replicas"] * gpus, "CPU": group["replicas"] * cpus})
    assert plan.num_gpus > 0 and plan.num_actors == group["replicas"] * gpus / plan.num_gpus
    actors_per_pod = gpus / plan.num_gpus
    assert actors_per_pod * plan.num_cpus <= cpus  # each pod has the CPUs its actors ask for


def test_the_image_is_pinned_to_the_projects_version():
    version = re.search(r'^version = "([^"]+)"$', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    for name in ("raycluster.yaml", "rayjob.yaml"):
        manifest = _load(name)
        spec = manifest["spec"].get("rayClusterSpec", manifest["spec"])
        for pod in _pods(spec):
            for container in pod["containers"]:
                assert container["image"] == f"REGISTRY/cbred-ray:{version}", container["image"]
    assert f"cbred-ray:{version}" in (K8S / "README.md").read_text()


def test_the_autoscaler_is_on_where_the_workers_can_scale():
    spec = _load("raycluster.yaml")["spec"]
    [group] = spec["workerGroupSpecs"]
    assert group["minReplicas"] < group["maxReplicas"] and spec["enableInTreeAutoscaling"] is True


def test_every_pod_runs_as_rays_user_in_the_group_that_owns_the_store():
    for pod in _pods(_load("raycluster.yaml")["spec"]):
        assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
        assert pod["securityContext"]["runAsUser"] == 1000  # the ray user of Ray's images


def test_the_submitter_is_a_small_cpu_pod():
    [container] = _load("rayjob.yaml")["spec"]["submitterPodTemplate"]["spec"]["containers"]
    assert "gpu" not in container["image"] and "cbred-ray" not in container["image"]
    assert _quantity(container["resources"]["limits"]["cpu"]) <= 1
    assert "nvidia.com/gpu" not in container["resources"]["limits"]


def test_the_claim_names_a_storage_class_the_readme_says_to_set():
    claim = _load("pvc.yaml")
    assert claim["spec"]["storageClassName"] == "STORAGE_CLASS"
    assert "STORAGE_CLASS" in (K8S / "README.md").read_text()
