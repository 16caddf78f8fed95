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


SIGNATURES = REPO_ROOT / "examples" / "signatures.yaml"


def test_signature_example_is_the_readme_one_and_verifies_both_senders(make_proxy, upstream,
                                                                        tmp_path):
    import hashlib
    import hmac
    import time

    text = SIGNATURES.read_text()
    readme = (REPO_ROOT / "README.md").read_text()
    routes_part = text[text.index("routes:"):]
    assert routes_part in readme, "the README shows examples/signatures.yaml's routes verbatim"

    secrets = {"stripe": "whsec_example_stripe", "github": "example github secret"}
    for name, secret in secrets.items():
        (tmp_path / name).write_text(secret + "\n")
    config = tmp_path / "signatures.yaml"
    config.write_text(text.replace("/etc/dedup-proxy-secrets/", str(tmp_path) + "/")
                      .replace("upstream: http://127.0.0.1:3000\n", ""))
    proxy = make_proxy("--config", str(config))

    event = json.dumps({"id": "evt_sig_1", "object": "event"}).encode()
    t = str(int(time.time()))
    v1 = hmac.new(secrets["stripe"].encode(), t.encode() + b"." + event, hashlib.sha256)
    stripe_headers = {"Stripe-Signature": "t=%s,v1=%s" % (t, v1.hexdigest())}
    assert proxy.request("POST", "/webhooks/stripe", event, stripe_headers).status == 200
    assert proxy.request("POST", "/webhooks/stripe", event, stripe_headers).replayed
    assert proxy.request("POST", "/webhooks/stripe", event).status == 401

    push = b'{"ref":"refs/heads/main"}'
    github_headers = {"X-GitHub-Delivery": "d-sig-1", "X-Hub-Signature-256": "sha256=" + hmac.new(
        secrets["github"].encode(), push, hashlib.sha256).hexdigest()}
    assert proxy.request("POST", "/webhooks/github", push, github_headers).status == 200
    forged = dict(github_headers, **{"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert proxy.request("POST", "/webhooks/github", push, forged).status == 401
    assert proxy.request("GET", "/healthz").status == 200
    assert upstream.count("evt_sig_1") == 1 and upstream.count("d-sig-1") == 1
