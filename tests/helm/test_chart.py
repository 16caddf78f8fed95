"""helm lint and helm template of helm/dedup-proxy: every mode, every refusal."""

import subprocess
import textwrap

import pytest

from conftest import CHART, RenderError, find, kinds, pod_spec, sidecar

REDIS = {"store.type": "redis", "store.redis.url": "redis://redis:6379/0"}

MODES = {
    "default": {},
    "native": {"sidecar.native": True},
    "pvc": {"persistence.enabled": True},
    "redis": REDIS,
    "redis-secret": {**REDIS, "store.redis.existingSecret": "redis-auth"},
    "redis-replicas-hpa-extras": {
        **REDIS,
        "replicaCount": 3,
        "autoscaling.enabled": True,
        "metrics.serviceMonitor.enabled": True,
        "metrics.prometheusRule.enabled": True,
        "metrics.grafanaDashboard.enabled": True,
        "podDisruptionBudget.enabled": True,
        "networkPolicy.enabled": True,
    },
    "local-replicas-accepted": {"replicaCount": 2, "store.acceptLocalStoreWithReplicas": True},
    "signature": {"signature.existingSecret": "webhook-secrets", "signature.secretKey": "stripe",
                  "signature.scheme": "stripe", "signature.tolerance": "2m"},
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_lint_strict(render, mode):
    proc = render.lint(MODES[mode])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_renders_one_workload_and_service(render, mode):
    objects = render.template(MODES[mode])
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    assert len(workloads) == 1
    assert find(objects, "Service", "rel-dedup-proxy")
    assert find(objects, "ConfigMap", "rel-dedup-proxy-config")


def test_service_targets_the_sidecar_not_the_app(render):
    objects = render.template({"app.port": 3000, "service.port": 80})
    svc = find(objects, "Service", "rel-dedup-proxy")
    http = [p for p in svc["spec"]["ports"] if p["name"] == "http"][0]
    assert http["port"] == 80 and http["targetPort"] == 8080
    container, _ = sidecar(objects)
    assert {"containerPort": 8080, "name": "dedup-http", "protocol": "TCP"} in container["ports"]
    assert all(p["targetPort"] != 3000 for p in svc["spec"]["ports"])
    assert svc["spec"]["selector"] == pod_spec(objects)["metadata"]["labels"]


def test_sidecar_args_probes_and_security(render):
    objects = render.template({"app.port": 5000})
    c, where = sidecar(objects)
    assert where == "containers"
    assert "restartPolicy" not in c
    args = c["args"]
    assert args[args.index("--upstream") + 1] == "http://127.0.0.1:5000"
    assert args[args.index("--listen") + 1] == "0.0.0.0:8080"
    assert args[args.index("--admin") + 1] == "0.0.0.0:9901"
    assert args[args.index("--store") + 1] == "rocksdb:/var/lib/dedup-proxy/data"
    assert args[args.index("--config") + 1] == "/etc/dedup-proxy/config.yaml"
    assert args[args.index("--drain-timeout") + 1] == "20s"
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 9901}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 9901}
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 65532
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/sleep", "5"]
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["dedup-proxy-data"] == "/var/lib/dedup-proxy"
    assert mounts["dedup-proxy-config"] == "/etc/dedup-proxy"


def test_grace_period_exceeds_drain(render):
    spec = pod_spec(render.template())["spec"]
    c, _ = sidecar(render.template())
    drain = int(c["args"][c["args"].index("--drain-timeout") + 1].rstrip("s"))
    assert spec["terminationGracePeriodSeconds"] == 30 > drain + 5
    with pytest.raises(RenderError, match="terminationGracePeriodSeconds"):
        render.template({"terminationGracePeriodSeconds": 20})


def test_classic_sidecar_is_a_second_container(render):
    spec = pod_spec(render.template())["spec"]
    assert [c["name"] for c in spec["containers"]] == ["app", "dedup-proxy"]
    assert "initContainers" not in spec


def test_native_sidecar_is_a_restartable_init_container(render):
    spec = pod_spec(render.template({"sidecar.native": True}))["spec"]
    assert [c["name"] for c in spec["containers"]] == ["app"]
    init = spec["initContainers"]
    assert [c["name"] for c in init] == ["dedup-proxy"]
    assert init[0]["restartPolicy"] == "Always"


def test_emptydir_by_default(render):
    objects = render.template()
    assert "StatefulSet" not in kinds(objects)
    volumes = {v["name"]: v for v in pod_spec(objects)["spec"]["volumes"]}
    assert volumes["dedup-proxy-data"]["emptyDir"] == {"sizeLimit": "1Gi"}
    assert volumes["dedup-proxy-config"]["configMap"]["name"] == "rel-dedup-proxy-config"


def test_pvc_renders_a_statefulset(render):
    objects = render.template({"persistence.enabled": True, "persistence.size": "5Gi"})
    assert "Deployment" not in kinds(objects)
    sts = find(objects, "StatefulSet")
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "dedup-proxy-data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    volumes = [v["name"] for v in sts["spec"]["template"]["spec"]["volumes"]]
    assert "dedup-proxy-data" not in volumes  # comes from the claim
    headless = find(objects, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"


def test_redis_store_url(render):
    c, _ = sidecar(render.template(REDIS))
    assert c["args"][c["args"].index("--store") + 1] == "redis://redis:6379/0"
    assert "env" not in c


def test_redis_password_from_existing_secret(render):
    c, _ = sidecar(render.template({**REDIS, "store.redis.existingSecret": "redis-auth"}))
    assert "--store" not in c["args"]  # the password never appears in the args
    env = c["env"]
    assert env[0]["name"] == "DEDUP_PROXY_REDIS_PASSWORD"
    assert env[0]["valueFrom"]["secretKeyRef"] == {"name": "redis-auth", "key": "password"}
    # Defined after the password, so Kubernetes expands $(DEDUP_PROXY_REDIS_PASSWORD).
    assert env[1] == {
        "name": "DEDUP_PROXY_STORE",
        "value": "redis://:$(DEDUP_PROXY_REDIS_PASSWORD)@redis:6379/0",
    }


def test_redis_sentinel_url_with_password_from_existing_secret(render):
    url = "redis-sentinel://s1:26379\\,s2:26379/mymaster/0"  # helm --set: comma escaped
    c, _ = sidecar(render.template({"store.type": "redis", "store.redis.url": url,
                                    "store.redis.existingSecret": "redis-auth"}))
    assert c["env"][1] == {
        "name": "DEDUP_PROXY_STORE",
        "value": "redis-sentinel://:$(DEDUP_PROXY_REDIS_PASSWORD)@s1:26379,s2:26379/mymaster/0",
    }


def test_redis_cluster_url_with_password_from_existing_secret(render):
    url = "redis-cluster://r1:6379\\,r2:6379"  # helm --set: comma escaped
    c, _ = sidecar(render.template({"store.type": "redis", "store.redis.url": url,
                                    "store.redis.existingSecret": "redis-auth"}))
    assert c["env"][1] == {
        "name": "DEDUP_PROXY_STORE",
        "value": "redis-cluster://:$(DEDUP_PROXY_REDIS_PASSWORD)@r1:6379,r2:6379",
    }
    c, _ = sidecar(render.template({"store.type": "redis", "store.redis.url": url}))
    assert c["args"][c["args"].index("--store") + 1] == "redis-cluster://r1:6379,r2:6379"


def test_redis_without_url_fails(render):
    with pytest.raises(RenderError, match="store.redis.url"):
        render.template({"store.type": "redis"})


def test_configmap_holds_proxy_config_and_checksum_follows_it(render):
    objects = render.template()
    cm = find(objects, "ConfigMap")
    import yaml

    assert yaml.safe_load(cm["data"]["config.yaml"])["ttl"] == "24h"
    before = pod_spec(objects)["metadata"]["annotations"]["checksum/config"]
    again = pod_spec(render.template())["metadata"]["annotations"]["checksum/config"]
    changed = render.template({"proxy.config.ttl": "1h"})
    after = pod_spec(changed)["metadata"]["annotations"]["checksum/config"]
    assert before == again and before != after
    assert yaml.safe_load(find(changed, "ConfigMap")["data"]["config.yaml"])["ttl"] == "1h"


def test_replicas_with_local_store_fail_with_a_clear_message(render):
    with pytest.raises(RenderError) as err:
        render.template({"replicaCount": 2})
    assert "needs store.type=redis" in str(err.value)
    assert "NOT deduplicated" in str(err.value)
    with pytest.raises(RenderError, match="needs store.type=redis"):
        render.template({"replicaCount": 2, "persistence.enabled": True})


def test_replicas_with_local_store_accepted_explicitly(render):
    objects = render.template({"replicaCount": 2, "store.acceptLocalStoreWithReplicas": True})
    assert find(objects, "Deployment")["spec"]["replicas"] == 2


def test_hpa_with_local_store_fails(render):
    with pytest.raises(RenderError, match="redis"):
        render.template({"autoscaling.enabled": True})
    with pytest.raises(RenderError, match="HPA"):
        render.template({"autoscaling.enabled": True, "store.acceptLocalStoreWithReplicas": True})


def test_hpa_and_extras_with_redis(render):
    objects = render.template(MODES["redis-replicas-hpa-extras"])
    hpa = find(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert "replicas" not in find(objects, "Deployment")["spec"]
    sm = find(objects, "ServiceMonitor")
    assert sm["spec"]["endpoints"][0] == {"port": "admin", "path": "/metrics", "interval": "30s"}
    assert find(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    netpol = find(objects, "NetworkPolicy")
    ports = sorted(p["port"] for rule in netpol["spec"]["ingress"] for p in rule["ports"])
    assert ports == [8080, 9901]  # never the app's port


def test_optional_objects_off_by_default(render):
    assert kinds(render.template()) == ["ConfigMap", "Deployment", "Service"]


@pytest.mark.parametrize(
    "values, message",
    [
        ({"store.type": "memcached"}, "store.type"),
        ({"image.repository": ""}, "image.repository"),
        ({"image.pullPolicy": "Sometimes"}, "pullPolicy"),
        ({"app.port": 8080}, "app.port"),
        ({"replicaCount": "two"}, "replicaCount"),
    ],
)
def test_schema_refuses_bad_values(render, values, message):
    with pytest.raises(RenderError, match=message):
        render.template(values)


def test_library_use_from_a_wrapper_chart(render, tmp_path):
    """Another chart depends on ours (file://) and puts dedup-proxy.sidecar in its own pod."""
    wrapper = tmp_path / "wrapper"
    (wrapper / "templates").mkdir(parents=True)
    (wrapper / "Chart.yaml").write_text(
        textwrap.dedent(
            f"""\
            apiVersion: v2
            name: wrapper
            version: 0.0.1
            dependencies:
              - name: dedup-proxy
                version: 0.1.0
                repository: file://{CHART}
            """
        )
    )
    (wrapper / "values.yaml").write_text(
        textwrap.dedent(
            """\
            dedup-proxy:
              workload:
                enabled: false
              app:
                port: 4000
            """
        )
    )
    (wrapper / "templates" / "deployment.yaml").write_text(
        textwrap.dedent(
            """\
            {{- $dp := dict "Values" (index .Values "dedup-proxy") "Release" .Release }}
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: my-own-app
            spec:
              selector:
                matchLabels: {app: my-own-app}
              template:
                metadata:
                  labels: {app: my-own-app}
                  annotations:
                    checksum/dedup-config: {{ include "dedup-proxy.configChecksum" $dp }}
                spec:
                  containers:
                    - name: web
                      image: example/web:1
                    {{- include "dedup-proxy.sidecar" $dp | nindent 8 }}
                  volumes:
                    {{- include "dedup-proxy.sidecarVolumes" $dp | nindent 8 }}
            """
        )
    )
    dep = subprocess.run(
        [render.helm, "dependency", "update", str(wrapper)], capture_output=True, text=True, timeout=120
    )
    assert dep.returncode == 0, dep.stderr
    lint = render.lint(chart=wrapper)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    objects = render.template(chart=wrapper)
    assert kinds(objects) == ["ConfigMap", "Deployment"]  # our workload is off, our ConfigMap stays
    deployment = find(objects, "Deployment", "my-own-app")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "dedup-proxy"]
    args = containers[1]["args"]
    assert args[args.index("--upstream") + 1] == "http://127.0.0.1:4000"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    cm = find(objects, "ConfigMap")
    assert volumes["dedup-proxy-config"]["configMap"]["name"] == cm["metadata"]["name"]


def _leaf_keys(values, prefix=""):
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in ("proxy.config", "sidecar.resources", "podSecurityContext"):
            yield from _leaf_keys(value, path + ".")
        else:
            yield path


def test_readme_lists_every_value():
    import yaml

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    missing = [k for k in _leaf_keys(values) if f"| `{k}` |" not in readme]
    assert not missing, missing


@pytest.mark.parametrize("mode", sorted(MODES))
def test_notes_render(render, mode, tmp_path):
    """NOTES.txt renders in every mode (helm template skips it: wrap it in an object)."""
    import shutil

    chart = tmp_path / "dedup-proxy"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n    "
        + "{{- `` }}\n{{- define \"notes.body\" }}" + notes + "{{- end }}\n"
        + "{{ include \"notes.body\" . | indent 4 }}\n"
    )
    text = find(render.template(MODES[mode], chart=chart), "ConfigMap", "notes")["data"]["notes"]
    assert "dedup-proxy" in text and "Store:" in text
    if "replicaCount" in MODES[mode] and MODES[mode].get("store.type") != "redis":
        assert "NOT deduplicated" in text


def test_routes_in_values_reach_the_proxy_as_a_valid_config(render, tmp_path):
    """The example multi-route config, given as chart values, renders into a
    ConfigMap that the real binary accepts with the chart's own arguments."""
    import os
    from pathlib import Path

    import yaml

    from conftest import REPO

    example = yaml.safe_load((REPO / "examples" / "routes.yaml").read_text())
    values = tmp_path / "routes-values.yaml"
    values.write_text(yaml.safe_dump({"proxy": {"config": {"routes": example["routes"]}}}))
    objects = render.template(values_files=[values])
    config = yaml.safe_load(find(objects, "ConfigMap")["data"]["config.yaml"])
    assert [route["name"] for route in config["routes"]] == [
        "stripe", "pubsub", "sns", "github", "orders"]

    binary = Path(os.environ.get("DEDUP_PROXY_BIN", REPO / "build" / "proxy" / "dedup-proxy"))
    if not binary.exists():
        pytest.skip(f"{binary} is not built")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(find(objects, "ConfigMap")["data"]["config.yaml"])
    args = list(sidecar(objects)[0]["args"])
    del args[args.index("--config"):args.index("--config") + 2]
    result = subprocess.run([str(binary), *args, "--config", str(config_file), "--check-config"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "route orders\n" in result.stdout and "  missing_key: 400\n" in result.stdout


def test_signature_secret_is_mounted_and_passed_as_the_secret_file(render):
    objects = render.template(MODES["signature"])
    c, _ = sidecar(objects)
    args = c["args"]
    assert args[args.index("--signature-secret-file") + 1] == "/etc/dedup-proxy-secrets/stripe"
    assert args[args.index("--signature") + 1] == "stripe"
    assert args[args.index("--signature-tolerance") + 1] == "2m"
    mount = [m for m in c["volumeMounts"] if m["name"] == "dedup-proxy-signature-secrets"][0]
    assert mount == {"name": "dedup-proxy-signature-secrets",
                     "mountPath": "/etc/dedup-proxy-secrets", "readOnly": True}
    assert "subPath" not in mount, "a subPath mount would never see a rotated Secret"
    volume = [v for v in pod_spec(objects)["spec"]["volumes"]
              if v["name"] == "dedup-proxy-signature-secrets"][0]
    assert volume["secret"]["secretName"] == "webhook-secrets"
    assert volume["secret"]["defaultMode"] == 0o440


def test_signature_secret_alone_mounts_it_for_routes_to_name(render):
    objects = render.template({"signature.existingSecret": "webhook-secrets"})
    c, _ = sidecar(objects)
    assert "--signature-secret-file" not in c["args"] and "--signature" not in c["args"]
    assert any(m["name"] == "dedup-proxy-signature-secrets" for m in c["volumeMounts"])


def test_no_signature_values_render_no_signature_args(render):
    c, _ = sidecar(render.template({}))
    assert not [a for a in c["args"] if a.startswith("--signature")]
    assert not [m for m in c["volumeMounts"] if m["name"] == "dedup-proxy-signature-secrets"]


@pytest.mark.parametrize("values, message", [
    ({"signature.secretKey": "stripe"}, "signature.secretKey needs signature.existingSecret"),
    ({"signature.scheme": "github"}, "signature.scheme needs signature.existingSecret"),
])
def test_signature_values_without_a_secret_fail(render, values, message):
    with pytest.raises(RenderError, match=message):
        render.template(values)
