"""deploy/: every Kubernetes manifest validates against the Kubernetes API's own schemas
(kubernetes-validate, offline), and the training jobs hang together: the rendezvous address, the
headless Service, the node count and the shared checkpoint volume."""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
VERSION = "1.31"  # the oldest Kubernetes release still supported upstream when this was written

# The Kubeflow training operator's PyTorchJob (kubeflow.org/v1) is a custom resource, so the
# Kubernetes schemas do not know it: its own fields are checked against this schema (written from
# the operator's API reference: spec.pytorchReplicaSpecs, runPolicy, nprocPerNode), and each
# replica's pod template against the Kubernetes PodTemplate schema.
PYTORCHJOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "kubeflow.org/v1"},
        "kind": {"const": "PyTorchJob"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["pytorchReplicaSpecs"],
            "additionalProperties": False,
            "properties": {
                "nprocPerNode": {"type": "string", "pattern": r"^(auto|cpu|gpu|[1-9][0-9]*)$"},
                "elasticPolicy": {"type": "object"},
                "runPolicy": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "cleanPodPolicy": {"enum": ["All", "Running", "None"]},
                        "backoffLimit": {"type": "integer", "minimum": 0},
                        "activeDeadlineSeconds": {"type": "integer", "minimum": 0},
                        "ttlSecondsAfterFinished": {"type": "integer", "minimum": 0},
                        "suspend": {"type": "boolean"},
                        "schedulingPolicy": {"type": "object"},
                    },
                },
                "pytorchReplicaSpecs": {
                    "type": "object",
                    "required": ["Master"],
                    "additionalProperties": False,
                    "properties": {
                        role: {
                            "type": "object",
                            "required": ["replicas", "template"],
                            "additionalProperties": False,
                            "properties": {
                                "replicas": {"type": "integer", "minimum": 1},
                                "restartPolicy": {
                                    "enum": ["Always", "OnFailure", "Never", "ExitCode"]
                                },
                                "template": {"type": "object"},
                            },
                        }
                        for role in ("Master", "Worker")
                    },
                },
            },
        },
    },
}


def documents() -> list[tuple[str, dict[str, Any]]]:
    """Every YAML document under deploy/kubernetes/, with the file it came from."""
    found = []
    for path in sorted(KUBERNETES.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), document))
    return found


def validate(document: dict[str, Any]) -> None:
    """Raise when ``document`` is not a valid object of the Kubernetes API (or a PyTorchJob)."""
    if document["kind"] != "PyTorchJob":
        kubernetes_validate.validate(document, VERSION, strict=True)
        return
    jsonschema.validate(document, PYTORCHJOB_SCHEMA)
    for replica in document["spec"]["pytorchReplicaSpecs"].values():
        pod_template = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": document["metadata"]["name"]},
            "template": replica["template"],
        }
        kubernetes_validate.validate(pod_template, VERSION, strict=True)


def by_kind(kind: str, name: str | None = None) -> dict[str, Any]:
    (found,) = [
        d for _, d in documents() if d["kind"] == kind and name in (None, d["metadata"]["name"])
    ]
    return found


@pytest.mark.parametrize(("path", "document"), documents(), ids=lambda v: str(v)[:60])
def test_every_manifest_is_valid_kubernetes(path: str, document: dict[str, Any]) -> None:
    validate(document)


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("Deployment", ["spec", "replicas"], "two"),
        ("Job", ["spec", "template", "spec", "containers", 0, "resources", "limits"], "4"),
        ("Job", ["spec", "completionMode"], ["Indexed"]),
        ("PyTorchJob", ["spec", "runPolicy", "cleanPodPolicy"], "Sometimes"),
        ("PyTorchJob", ["spec", "pytorchReplicaSpecs", "Worker", "template", "spec"], {"x": 1}),
    ],
)
def test_a_broken_manifest_is_refused(kind: str, path: list[Any], value: Any) -> None:
    broken = copy.deepcopy(by_kind(kind))
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
        validate(broken)


def training_command(pod_spec: dict[str, Any]) -> list[str]:
    """The training container's command, the shell's script split into words."""
    (container,) = pod_spec["containers"]
    assert container["command"][:2] == ["sh", "-c"]
    return shlex.split(container["command"][2])


def test_the_indexed_job_finds_its_rendezvous_through_the_headless_service() -> None:
    job, service = by_kind("Job"), by_kind("Service", "modelcycle-train")
    words = training_command(job["spec"]["template"]["spec"])
    options = dict(w.split("=", 1) for w in words if w.startswith("--") and "=" in w)
    host, port = options["--rdzv-endpoint"].split(":")
    job_name, subdomain = job["metadata"]["name"], job["spec"]["template"]["spec"]["subdomain"]
    assert host == f"{job_name}-0.{subdomain}"  # pod 0's DNS name under the Service
    assert service["metadata"]["name"] == subdomain
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"]
    assert service["spec"]["selector"] == {"batch.kubernetes.io/job-name": job_name}
    assert [p["port"] for p in service["spec"]["ports"]] == [int(port)]
    assert options["--rdzv-backend"] == "c10d"
    nodes = int(options["--nnodes"])
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == nodes


@pytest.mark.parametrize("kind", ["Job", "PyTorchJob"])
def test_training_jobs_resume_from_checkpoints_on_the_shared_volume(kind: str) -> None:
    job = by_kind(kind)
    pod_specs = (
        [job["spec"]["template"]["spec"]]
        if kind == "Job"
        else [r["template"]["spec"] for r in job["spec"]["pytorchReplicaSpecs"].values()]
    )
    claim = by_kind("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # pods on several nodes
    for pod_spec in pod_specs:
        (container,) = pod_spec["containers"]
        if kind == "PyTorchJob":
            assert container["name"] == "pytorch"  # the operator finds its container so
        volumes = {v["name"]: v for v in pod_spec["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        shared = volumes[mounts["/shared"]]
        assert shared["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        script = container["command"][2]
        words = training_command(pod_spec)
        checkpoints = words[words.index("--checkpoint-dir") + 1]
        assert checkpoints.startswith("/shared/")
        assert f'[ -d {checkpoints} ] && resume="--resume"' in script
        assert words[words.index("-o") + 1].startswith("/shared/")
        assert re.search(r"exec torchrun .*-m modelcycle train ", " ".join(words))
