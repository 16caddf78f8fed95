"""Official client libraries from npm as real senders: the `cloudevents` SDK's
HTTP emitter (binary and structured mode) in front of the knative and dapr
presets, and the `standardwebhooks` package signing deliveries for the
standard-webhooks preset (and verifying them again on the app's side).

The Node project is tests/integration/senders (scripts/setup.sh runs
`npm ci` there). Each script sends one message several times, as a retrying
sender would, and prints what it got back as JSON.
"""

import base64
import json
import shutil
import subprocess

import pytest

from harness import HERE, child_env

SENDERS_DIR = HERE / "senders"
NODE = shutil.which("node")
pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node missing (scripts/setup.sh)"),
    pytest.mark.skipif(not (SENDERS_DIR / "node_modules").is_dir(),
                       reason="tests/integration/senders/node_modules missing (scripts/setup.sh)"),
]

STANDARD_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def node(script, *args, stdin=None):
    done = subprocess.run([NODE, str(SENDERS_DIR / script), *map(str, args)],
                          input=stdin, capture_output=True, text=True, timeout=60,
                          env=child_env())
    assert done.returncode == 0, "%s failed (%d): %s" % (script, done.returncode, done.stderr)
    return done.stdout


def send(script, *args):
    return json.loads(node(script, *args))


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_cloudevents_sdk_emitter_to_knative(make_proxy, upstream, mode):
    proxy = make_proxy("--key", "knative")
    sent = send("cloudevents_sender.mjs", proxy.url + "/", mode, 3)
    key = sent["source"] + "%0A" + sent["id"]  # source and id, joined by a newline
    record = upstream.key(key)
    assert record["count"] == 1, record
    first, *duplicates = sent["replies"]
    assert "idempotent-replayed" not in first["headers"]
    assert json.loads(first["body"])["key"] == key
    for reply in duplicates:
        # Knative's duplicate: a bare 202, so the broker sees no reply event.
        assert reply["headers"].get("idempotent-replayed") == "true", reply
        assert reply["body"] == "", reply
    assert sent["replies"][-1]["status"] == 202
    # The event reached the app in the mode it was sent in.
    content_type = [v for n, v in record["headers"][0] if n.lower() == "content-type"][0]
    if mode == "binary":
        assert content_type == "application/json"
        assert json.loads(record["bodies"][0])["orderId"] == 1842
    else:
        assert content_type.startswith("application/cloudevents+json")
        assert json.loads(record["bodies"][0])["id"] == sent["id"]
    assert upstream.stats()["received"] == 1


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_cloudevents_sdk_emitter_to_dapr(make_proxy, upstream, mode):
    proxy = make_proxy("--key", "dapr")
    sent = send("cloudevents_sender.mjs", proxy.url + "/orders", mode, 3)
    assert upstream.count(sent["id"]) == 1
    for reply in sent["replies"][1:]:
        assert reply["body"] == '{"status":"SUCCESS"}', reply
        assert reply["headers"].get("idempotent-replayed") == "true", reply
    assert sent["replies"][-1]["status"] == 200
    assert upstream.stats()["received"] == 1


def test_cloudevents_sdk_emitter_with_the_plain_cloudevents_key(make_proxy, upstream):
    proxy = make_proxy("--key", "cloudevents")
    sent = send("cloudevents_sender.mjs", proxy.url + "/events", "structured", 2)
    assert upstream.count(sent["source"] + "%0A" + sent["id"]) == 1
    first, again = sent["replies"]
    assert again["status"] == 200 and again["headers"].get("idempotent-replayed") == "true"
    assert again["body"] == first["body"], "the default profile replays the app's answer"


def test_standardwebhooks_package_signs_redeliveries(make_proxy, upstream):
    proxy = make_proxy("--key", "standard-webhooks")
    sent = send("standardwebhooks_sender.mjs", proxy.url + "/webhooks", STANDARD_SECRET, 3)
    first, *duplicates = sent["replies"]
    assert first["status"] == 200 and "idempotent-replayed" not in first["headers"]
    for reply in duplicates:
        assert reply["status"] == 200, reply
        assert reply["headers"].get("idempotent-replayed") == "true", reply
        assert reply["body"] == first["body"], "the app's answer is replayed"
    record = upstream.key(sent["id"])
    assert record["count"] == 1, record
    assert upstream.stats()["received"] == 1

    # The app verifies what it received with the same package: the proxy
    # passed the body and the signature headers on byte for byte.
    received = {"headers": {n.lower(): v for n, v in record["headers"][0]},
                "body_base64": base64.b64encode(record["bodies"][0].encode("latin-1")).decode()}
    payload = json.loads(node("standardwebhooks_verify.mjs", STANDARD_SECRET,
                              stdin=json.dumps(received)))
    assert payload["data"]["invoice"] == "in_1842"

    # A signature made with another secret does not verify: the check can fail.
    with pytest.raises(AssertionError, match="verification failed"):
        node("standardwebhooks_verify.mjs", "whsec_" + base64.b64encode(b"x" * 24).decode(),
             stdin=json.dumps(received))


def test_cloudevents_same_event_binary_then_structured_is_a_duplicate(make_proxy, upstream):
    # One event, two content modes: the same source + id and the same
    # attributes and data, so the second is a replay, not a 422 mismatch.
    proxy = make_proxy("--key", "cloudevents")
    sent = send("cloudevents_both_modes.mjs", proxy.url + "/events")
    binary, structured = sent["replies"]
    assert binary["status"] == 200 and "idempotent-replayed" not in binary["headers"], binary
    assert structured["status"] == 200, structured
    assert structured["headers"].get("idempotent-replayed") == "true", structured
    assert structured["body"] == binary["body"]
    assert upstream.count(sent["source"] + "%0A" + sent["id"]) == 1
    assert upstream.stats()["received"] == 1
