"""The multi-route example config (examples/routes.yaml) is valid and does what
its comments say, through the real binary: each sender's route answers in that
sender's terms, and requests no route matches pass through untouched."""

import json
import subprocess

from harness import REPO_ROOT, child_env

EXAMPLE = REPO_ROOT / "examples" / "routes.yaml"


def test_check_config_accepts_the_example_without_warnings(proxy_bin):
    result = subprocess.run([str(proxy_bin), "--check-config", "--config", str(EXAMPLE)],
                            capture_output=True, text=True, timeout=30, env=child_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "the example's TTLs cover every sender's retry horizon"
    for route in ("stripe", "pubsub", "sns", "github", "orders"):
        assert "route %s\n" % route in result.stdout
    assert "unmatched requests: forwarded untouched" in result.stdout


def test_example_routes_answer_each_sender(make_proxy, upstream):
    proxy = make_proxy("--config", str(EXAMPLE))

    event = json.dumps({"id": "evt_1", "object": "event", "type": "invoice.paid"}).encode()
    first = proxy.request("POST", "/webhooks/stripe", event,
                          {"Stripe-Signature": "t=1,v1=aa", "Content-Type": "application/json"})
    again = proxy.request("POST", "/webhooks/stripe", event,
                          {"Stripe-Signature": "t=2,v1=bb", "Content-Type": "application/json"})
    assert (first.status, again.status) == (200, 200)
    assert again.replayed and not first.replayed
    assert upstream.count("evt_1") == 1

    def push(attempt):
        return json.dumps({"message": {"data": "e30=", "messageId": "m-7", "message_id": "m-7"},
                           "subscription": "projects/p/subscriptions/s",
                           "deliveryAttempt": attempt}).encode()
    assert proxy.request("POST", "/pubsub/push", push(1)).status == 200
    duplicate = proxy.request("POST", "/pubsub/push", push(2))
    assert (duplicate.status, duplicate.body) == (204, b"")
    assert upstream.count("m-7") == 1

    handshake = {"x-amz-sns-message-type": "SubscriptionConfirmation",
                 "x-amz-sns-message-id": "sub-1"}
    for _ in range(2):
        assert proxy.request("POST", "/sns", b'{"Type":"SubscriptionConfirmation"}',
                             handshake).status == 200
    assert len(upstream.requests_to("/sns")) == 2, "handshakes are never deduplicated"

    missing = proxy.request("POST", "/orders", b"{}")
    assert missing.status == 400
    assert len(upstream.requests_to("/orders")) == 0

    # GitHub's route is for hooks.example.com only: another host passes through.
    for _ in range(2):
        reply = proxy.request("POST", "/webhooks/github", b"{}",
                              {"X-GitHub-Delivery": "d-1", "Host": "other.example.com"})
        assert reply.status == 200
    assert upstream.count("d-1") == 0, "no Dedup-Key on a request no route matches"
    assert len(upstream.requests_to("/webhooks/github")) == 2

    metrics = proxy.admin("GET", "/metrics").body.decode()
    assert 'dedup_proxy_deliveries_total{outcome="replayed",route="stripe"} 1' in metrics
    assert 'dedup_proxy_deliveries_total{outcome="replayed",route="pubsub"} 1' in metrics
    assert 'dedup_proxy_deliveries_total{outcome="missing_key",route="orders"} 1' in metrics
    assert 'dedup_proxy_deliveries_total{outcome="passthrough",route="unmatched"} 2' in metrics
    assert 'dedup_proxy_deliveries_total{outcome="passthrough",route="sns"} 2' in metrics


def test_readme_route_reference_is_a_valid_config(proxy_bin, tmp_path):
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Senders, presets and routes", 1)[1].split("\n## ", 1)[0]
    blocks = [block for block in section.split("```yaml\n")[1:]]
    assert blocks, "the README shows a routes: example"
    config = tmp_path / "readme-routes.yaml"
    config.write_text("upstream: http://127.0.0.1:3000\n" + blocks[0].split("```", 1)[0])
    result = subprocess.run([str(proxy_bin), "--check-config", "--config", str(config)],
                            capture_output=True, text=True, timeout=30, env=child_env())
    assert result.returncode == 0, result.stderr
    assert "route payments\n" in result.stdout
    assert "  match: POST /webhooks/stripe (prefix), host api.example.com\n" in result.stdout
