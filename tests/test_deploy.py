"""The deployment files: every Kubernetes manifest validates offline against the Kubernetes
schemas (strict: unknown fields are errors), the compose file builds the repo's Dockerfile,
the policy ConfigMap is policies/default.yaml, and the alerts use metrics the service has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from service.metrics import Metrics

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"  # the oldest minor we support; newer ones accept these too


def resources(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def all_resources() -> list[dict[str, Any]]:
    return [resource for path in MANIFESTS for resource in resources(path)]


def validate(resource: dict[str, Any]) -> None:
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifest_validates_against_the_kubernetes_schemas(path: Path) -> None:
    for resource in resources(path):
        validate(resource)


def test_validation_catches_a_misspelt_field() -> None:
    deployment = next(r for r in all_resources() if r["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)


def test_the_manifests_hold_each_part_of_the_deployment() -> None:
    kinds = {(r["kind"], r["metadata"]["name"]) for r in all_resources()}
    for expected in [
        ("Deployment", "riskscore"),
        ("Service", "riskscore"),
        ("HorizontalPodAutoscaler", "riskscore"),
        ("PodDisruptionBudget", "riskscore"),
        ("ConfigMap", "riskscore-policy"),
        ("Secret", "riskscore-api-keys"),
        ("StatefulSet", "riskscore-redis"),
        ("Job", "riskscore-redis-bootstrap"),
        ("StatefulSet", "riskscore-postgres"),
        ("Service", "riskscore-postgres"),
        ("Secret", "riskscore-database"),
    ]:
        assert expected in kinds


def test_the_service_pod_runs_as_10001_read_only_with_probes() -> None:
    deployment = next(r for r in all_resources() if r["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["RISKSCORE_REDIS_CLUSTER"]["value"] == "true"
    mounted = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert str(Path(env["RISKSCORE_POLICY_FILE"]["value"]).parent) in mounted


def test_the_policy_configmap_is_the_default_policy() -> None:
    configmap = next(r for r in all_resources() if r["metadata"]["name"] == "riskscore-policy")
    assert configmap["data"]["default.yaml"] == (ROOT / "policies" / "default.yaml").read_text(), (
        "deploy/k8s/policy-configmap.yaml is stale: regenerate it with the command in its header"
    )


def test_compose_builds_the_repository_dockerfile_next_to_redis() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    service = compose["services"]["riskscore"]
    dockerfile = (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).resolve()
    assert dockerfile == ROOT / "Dockerfile"
    assert dockerfile.exists()
    assert "redis" in compose["services"]
    assert service["environment"]["RISKSCORE_REDIS_URL"] == "redis://redis:6379/0"
    database = service["environment"]["RISKSCORE_DATABASE_URL"]
    assert "postgres" in compose["services"] and "@postgres:5432/" in database
    assert "postgres" in service["depends_on"]


def test_alerts_name_only_metrics_the_service_exports() -> None:
    known = {
        name
        for metric in Metrics().registry.collect()
        for name in (
            metric.name,
            f"{metric.name}_total",
            f"{metric.name}_count",
            f"{metric.name}_bucket",
        )
    } | {"up"}
    rules = yaml.safe_load((DEPLOY / "alerts.yaml").read_text())["groups"][0]["rules"]
    assert rules
    for rule in rules:
        used = set(re.findall(r"\b(riskscore_[a-z_]+|up)\{", rule["expr"]))
        used |= set(re.findall(r"\b(riskscore_[a-z_]+)\b", rule["expr"]))
        assert used and used <= known, (rule["alert"], used - known)
        assert rule["annotations"]["summary"]


def test_operations_guide_names_every_setting_and_every_alert() -> None:
    from service.settings import Settings

    guide = (ROOT / "docs" / "operations.md").read_text()
    for name in Settings.model_fields:
        assert f"`RISKSCORE_{name.upper()}`" in guide, name
    rules = yaml.safe_load((DEPLOY / "alerts.yaml").read_text())["groups"][0]["rules"]
    for rule in rules:
        assert f"| `{rule['alert']}` |" in guide, rule["alert"]
