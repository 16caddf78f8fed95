"""Every rendered manifest of helm/dedup-proxy validated against Kubernetes' own
OpenAPI-derived schemas (npm kubernetes-models, run by k8s_validate/validate.js).

k8s_validate/node_modules comes from `npm ci` (scripts/install_helm.sh); without
it these tests are skipped.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import CHART, _set_args
from test_chart import MODES

VALIDATOR_DIR = Path(__file__).resolve().parent / "k8s_validate"
VALIDATE_JS = VALIDATOR_DIR / "validate.js"

# The modes this file must cover at the very least (all of MODES is run).
REQUIRED_MODES = {"default", "native", "pvc", "redis-replicas-hpa-extras"}


@pytest.fixture(scope="session")
def node():
    if not (VALIDATOR_DIR / "node_modules" / "kubernetes-models").is_dir():
        pytest.skip("tests/helm/k8s_validate/node_modules is missing (run scripts/install_helm.sh)")
    binary = shutil.which("node")
    assert binary, "node_modules is installed but node is not on PATH"
    return binary


def helm_template(render, values):
    proc = render.run("template", "rel", str(CHART), "--namespace", "ns", *_set_args(values))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def validate(node, manifest):
    proc = subprocess.run(
        [node, str(VALIDATE_JS)], input=manifest, capture_output=True, text=True,
        timeout=120, cwd=str(VALIDATOR_DIR),
    )
    return proc.returncode, proc.stdout.splitlines(), proc.stdout + proc.stderr


def identities(manifest):
    return sorted(
        (o["apiVersion"], o["kind"], o["metadata"]["name"])
        for o in yaml.safe_load_all(manifest) if o
    )


def test_required_modes_exist():
    assert REQUIRED_MODES <= set(MODES)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_rendered_manifests_match_kubernetes_schemas(render, node, mode):
    manifest = helm_template(render, MODES[mode])
    code, lines, output = validate(node, manifest)
    assert code == 0, output
    validated = sorted(tuple(line.split()[1:4]) for line in lines if line.startswith("ok "))
    rendered = identities(manifest)
    assert rendered, "helm rendered nothing"
    # Every object rendered was validated (none skipped, none unaccounted for).
    assert validated == rendered, output
    assert len(lines) == len(rendered), output


def _default_objects(render):
    return [o for o in yaml.safe_load_all(helm_template(render, {})) if o]


def _workload(objects):
    return next(o for o in objects if o["kind"] == "Deployment")


def _reject(node, objects, expected):
    code, lines, output = validate(node, yaml.safe_dump_all(objects))
    assert code == 1, output
    invalid = [line for line in lines if line.startswith("invalid ")]
    assert len(invalid) == 1, output
    assert expected in invalid[0], output


def test_wrong_replicas_type_is_rejected(render, node):
    objects = _default_objects(render)
    _workload(objects)["spec"]["replicas"] = "two"
    _reject(node, objects, "replicas must be integer")


def test_wrong_container_port_type_is_rejected(render, node):
    objects = _default_objects(render)
    containers = _workload(objects)["spec"]["template"]["spec"]["containers"]
    proxy = next(c for c in containers if c["name"] == "dedup-proxy")
    proxy["ports"][0]["containerPort"] = "abc"
    _reject(node, objects, "containerPort must be integer")


def test_missing_required_field_is_rejected(render, node):
    objects = _default_objects(render)
    del _workload(objects)["spec"]["selector"]
    _reject(node, objects, "selector")


def test_unknown_kind_is_rejected(node):
    manifest = "apiVersion: v1\nkind: NoSuchKind\nmetadata:\n  name: x\n"
    code, lines, output = validate(node, manifest)
    assert code == 1 and lines == ["invalid v1 NoSuchKind x: unknown kind for this apiVersion"], output


def test_unknown_api_group_is_rejected(node):
    manifest = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: x\n"
    code, _, output = validate(node, manifest)
    assert code == 1 and "invalid example.com/v1 Widget x: unknown apiVersion" in output, output
