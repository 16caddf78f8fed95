"""The chart ships the alert rules and the Grafana dashboard of the metrics
(files/), as a PrometheusRule and a dashboard ConfigMap when asked."""

import json

import yaml

from conftest import CHART, find

RULES = CHART / "files" / "dedup-proxy.rules.yaml"
DASHBOARD = CHART / "files" / "dedup-proxy-dashboard.json"
APP = {"app.image.repository": "example/app"}


def test_prometheus_rule_carries_every_alert_of_the_rules_file(render):
    objects = render.template({**APP, "metrics.prometheusRule.enabled": "true"})
    rule = find(objects, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert "DedupProxyLeasesExpiring" in alerts and "DedupProxyStoreErrors" in alerts


def test_dashboard_config_map_holds_the_dashboard_json(render):
    objects = render.template({**APP, "metrics.grafanaDashboard.enabled": "true"})
    config_map = find(objects, "ConfigMap", "rel-dedup-proxy-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["dedup-proxy.json"]) == json.loads(DASHBOARD.read_text())


def test_monitoring_objects_are_off_by_default(render):
    kinds = {o["kind"] for o in render.template(APP)}
    assert "PrometheusRule" not in kinds
    assert not [o for o in render.template(APP) if o["metadata"]["name"].endswith("-dashboard")]
