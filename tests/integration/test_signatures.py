"""Signature verification before dedup (issue 15), through the real binary.

Each scheme's signatures are computed here from the provider's published
algorithm (and, for Standard Webhooks, by the official `standardwebhooks`
npm package too), never by the proxy's code. For every scheme: a genuine
delivery reaches the app once and its re-signed redelivery is replayed; a
forgery of the same key gets 401 and leaves no trace in the store, so the
genuine delivery after it still reaches the app; missing, malformed and stale
signatures get 401; a secret file with two secrets accepts both."""

import base64
import hashlib
import hmac
import http.client
import json
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from harness import HERE, child_env, http_request, wait_until
from test_concurrency import scrape_metrics

TOKEN = "signature-test-token"


def mac(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256)


def now():
    return int(time.time())


class Stripe:
    preset = "stripe"
    forged_secret = "a guessed secret"
    secrets = ("whsec_stripe_old_0123456789", "whsec_stripe_new_abcdef")
    timestamped = True

    def delivery(self, key, secret, timestamp=None):
        body = json.dumps({"id": key, "object": "event", "type": "invoice.paid"}).encode()
        t = str(timestamp or now()).encode()
        v1 = mac(secret.encode(), t, b".", body).hexdigest()
        return body, {"Stripe-Signature": "t=%s,v1=%s" % (t.decode(), v1),
                      "Content-Type": "application/json"}

    def malformed(self, headers):
        headers["Stripe-Signature"] = headers["Stripe-Signature"].split(",")[0]  # no v1
        return headers


class Github:
    forged_secret = "a guessed secret"
    preset = "github"
    secrets = ("It's a Secret to Everybody", "and another one")
    timestamped = False

    def delivery(self, key, secret, timestamp=None):
        body = json.dumps({"action": "opened", "number": 7}).encode()
        return body, {"X-GitHub-Delivery": key, "X-GitHub-Event": "pull_request",
                      "X-Hub-Signature-256": "sha256=" + mac(secret.encode(), body).hexdigest()}

    def malformed(self, headers):
        headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"][len("sha256="):]
        return headers


class Shopify:
    forged_secret = "a guessed secret"
    preset = "shopify"
    secrets = ("shpss_first_secret", "shpss_second_secret")
    timestamped = False

    def delivery(self, key, secret, timestamp=None):
        body = json.dumps({"id": 820982911946154508, "email": "jon@example.com"}).encode()
        signature = base64.b64encode(mac(secret.encode(), body).digest()).decode()
        return body, {"X-Shopify-Webhook-Id": key, "X-Shopify-Topic": "orders/create",
                      "X-Shopify-Hmac-Sha256": signature}

    def malformed(self, headers):
        headers["X-Shopify-Hmac-Sha256"] = headers["X-Shopify-Hmac-Sha256"][:20]
        return headers


class Slack:
    forged_secret = "a guessed secret"
    preset = "slack"
    secrets = ("8f742231b10e8888abcd99yyyzzz85a5", "0123456789abcdef0123456789abcdef")
    timestamped = True

    def delivery(self, key, secret, timestamp=None):
        body = json.dumps({"type": "event_callback", "event_id": key,
                           "event": {"type": "app_mention", "text": "hi"}}).encode()
        ts = str(timestamp or now()).encode()
        signature = "v0=" + mac(secret.encode(), b"v0:", ts, b":", body).hexdigest()
        return body, {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": ts.decode(),
                      "Content-Type": "application/json"}

    def malformed(self, headers):
        headers["X-Slack-Signature"] = headers["X-Slack-Signature"].replace("v0=", "v1=")
        return headers


class StandardWebhooks:
    forged_secret = "whsec_" + base64.b64encode(b"a guessed secret").decode()
    preset = "standard-webhooks"
    secrets = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + base64.b64encode(
        b"the rotated-in key, 32 bytes lon").decode())
    timestamped = True
    prefix = "webhook-"

    def delivery(self, key, secret, timestamp=None):
        body = json.dumps({"type": "invoice.paid", "data": {"amount": 1990}}).encode()
        ts = str(timestamp or now()).encode()
        raw_key = base64.b64decode(secret[len("whsec_"):])
        signature = base64.b64encode(mac(raw_key, key.encode(), b".", ts, b".", body).digest())
        return body, {self.prefix + "id": key, self.prefix + "timestamp": ts.decode(),
                      self.prefix + "signature": "v1," + signature.decode(),
                      "Content-Type": "application/json"}

    def malformed(self, headers):
        headers[self.prefix + "signature"] = "v2,abc"
        return headers


class Svix(StandardWebhooks):
    prefix = "svix-"


SCHEMES = [Stripe(), Github(), Shopify(), Slack(), StandardWebhooks(), Svix()]
IDS = ["stripe", "github", "shopify", "slack", "standard-webhooks", "svix"]


def signature_header_names(scheme):
    _, headers = scheme.delivery("k", scheme.secrets[0])
    return [name for name in headers
            if name.lower() not in ("content-type", "x-github-delivery", "x-github-event",
                                    "x-shopify-webhook-id", "x-shopify-topic", "webhook-id",
                                    "svix-id")]


def write_secrets(path, *secrets):
    # Surrounding whitespace and blank lines are ignored.
    path.write_text("\n".join("  %s \t" % s for s in secrets) + "\n\n")
    return path


def key_state(proxy, key, route="default"):
    reply = http_request(proxy.admin_port, "GET", "/keys/%s/%s" % (route, key),
                         headers={"Authorization": "Bearer " + TOKEN})
    return json.loads(reply.body)["state"]


@pytest.fixture
def signed_proxy(make_proxy, tmp_path):
    def make(scheme, *secrets, extra=()):
        secret_file = write_secrets(tmp_path / ("%s-secrets" % scheme.preset),
                                    *(secrets or scheme.secrets[:1]))
        proxy = make_proxy("--key", scheme.preset, "--signature-secret-file", str(secret_file),
                           "--admin-token", TOKEN, *extra)
        proxy.secret_file = secret_file
        return proxy
    return make


def new_key():
    return "evt_" + uuid.uuid4().hex


@pytest.mark.parametrize("scheme", SCHEMES, ids=IDS)
def test_genuine_forwarded_once_and_resigned_redelivery_replayed(signed_proxy, upstream, scheme):
    proxy = signed_proxy(scheme)
    key = new_key()
    body, headers = scheme.delivery(key, scheme.secrets[0])
    first = proxy.request("POST", "/hook", body, headers)
    assert first.status == 200, str(first)
    assert not first.replayed
    # The sender retries: signed again (a later timestamp where the scheme has one).
    body, headers = scheme.delivery(key, scheme.secrets[0], timestamp=now() + 1)
    again = proxy.request("POST", "/hook", body, headers)
    assert again.status == 200 and again.replayed, str(again)
    assert upstream.count(key) == 1
    received = upstream.key(key)["bodies"][0].encode("latin-1")
    assert received == body, "the app gets the body the signature covers, byte for byte"


@pytest.mark.parametrize("scheme", SCHEMES, ids=IDS)
def test_forgery_leaves_no_trace_and_the_genuine_delivery_reaches_the_app(signed_proxy, upstream,
                                                                           scheme):
    proxy = signed_proxy(scheme)
    key = new_key()
    body, headers = scheme.delivery(key, scheme.forged_secret)
    forged = proxy.request("POST", "/hook", body, headers)
    assert forged.status == 401, str(forged)
    assert forged.header("Content-Type") == "application/problem+json"
    problem = forged.json()
    assert problem["status"] == 401 and "mismatch" in problem["detail"], problem
    for secret in scheme.secrets:
        assert secret.encode() not in forged.body
    assert upstream.count(key) == 0 and upstream.stats()["received"] == 0
    assert key_state(proxy, key) == "absent", "no lease, commit or released record"

    body, headers = scheme.delivery(key, scheme.secrets[0])
    genuine = proxy.request("POST", "/hook", body, headers)
    assert genuine.status == 200 and not genuine.replayed, str(genuine)
    assert upstream.count(key) == 1
    assert key_state(proxy, key) == "committed"
    assert proxy.log.wait_for(r"signature check failed.*check=mismatch", timeout=10)
    log = proxy.log.text()
    assert body.decode() not in log and scheme.secrets[0] not in log


@pytest.mark.parametrize("scheme", SCHEMES, ids=IDS)
def test_missing_and_malformed_signatures_get_401(signed_proxy, upstream, scheme):
    proxy = signed_proxy(scheme)
    key = new_key()
    body, headers = scheme.delivery(key, scheme.secrets[0])
    for name in signature_header_names(scheme):
        stripped = {k: v for k, v in headers.items() if k != name}
        reply = proxy.request("POST", "/hook", body, stripped)
        assert reply.status == 401, "without %s: %s" % (name, reply)
        assert "signature missing" in reply.json()["detail"]
    reply = proxy.request("POST", "/hook", body, scheme.malformed(dict(headers)))
    assert reply.status == 401 and "signature malformed" in reply.json()["detail"], str(reply)
    # Tampered body under a genuine signature.
    reply = proxy.request("POST", "/hook", body + b" ", headers)
    assert reply.status == 401 and "signature mismatch" in reply.json()["detail"], str(reply)
    assert upstream.stats()["received"] == 0
    assert key_state(proxy, key) == "absent"
    counts = {labels["outcome"]: value for labels, value in
              scrape_metrics(proxy)["dedup_proxy_deliveries_total"]}
    assert counts["bad_signature"] == len(signature_header_names(scheme)) + 2
    assert counts["forwarded"] == 0


@pytest.mark.parametrize("scheme", [s for s in SCHEMES if s.timestamped],
                         ids=[i for s, i in zip(SCHEMES, IDS) if s.timestamped])
def test_stale_and_future_timestamps_get_401(signed_proxy, upstream, scheme):
    proxy = signed_proxy(scheme, extra=("--signature-tolerance", "2m"))
    key = new_key()
    for timestamp in (now() - 180, now() + 180):
        body, headers = scheme.delivery(key, scheme.secrets[0], timestamp=timestamp)
        reply = proxy.request("POST", "/hook", body, headers)
        assert reply.status == 401 and "signature stale" in reply.json()["detail"], str(reply)
    body, headers = scheme.delivery(key, scheme.secrets[0], timestamp=now() - 60)
    assert proxy.request("POST", "/hook", body, headers).status == 200
    assert upstream.count(key) == 1


@pytest.mark.parametrize("scheme", SCHEMES, ids=IDS)
def test_rotation_both_secrets_of_the_file_pass(signed_proxy, upstream, scheme):
    proxy = signed_proxy(scheme, *scheme.secrets)
    keys = [new_key(), new_key()]
    for key, secret in zip(keys, scheme.secrets):
        body, headers = scheme.delivery(key, secret)
        assert proxy.request("POST", "/hook", body, headers).status == 200
    assert [upstream.count(k) for k in keys] == [1, 1]


def test_chunked_body_is_verified_as_received(signed_proxy, upstream):
    scheme = Github()
    proxy = signed_proxy(scheme)
    key = new_key()
    body, headers = scheme.delivery(key, scheme.secrets[0])
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=15)
    try:
        conn.request("POST", "/hook", body=iter([body[:5], body[5:]]), headers=headers,
                     encode_chunked=True)
        reply = conn.getresponse()
        reply.read()
    finally:
        conn.close()
    assert reply.status == 200
    assert upstream.count(key) == 1


def test_every_request_the_route_matches_is_verified_key_or_not(signed_proxy, upstream):
    scheme = Github()
    proxy = signed_proxy(scheme)
    assert proxy.request("GET", "/status").status == 401
    assert proxy.request("POST", "/hook", b"{}").status == 401  # no key, no signature
    assert upstream.stats()["received"] == 0


ROUTES = """
routes:
  - name: stripe
    match: {path_prefix: /webhooks/stripe}
    preset: stripe
    ttl: 72h
    signature: {secret_file: %(stripe)s, tolerance: 5m}
  - name: github
    match: {path_prefix: /webhooks/github}
    preset: github
    signature: {scheme: github, secret_file: %(github)s}
  - name: orders
    match: {path_prefix: /orders}
"""


def test_two_routes_with_different_schemes_and_secrets(make_proxy, upstream, tmp_path):
    stripe, github = Stripe(), Github()
    files = {"stripe": write_secrets(tmp_path / "stripe", stripe.secrets[0]),
             "github": write_secrets(tmp_path / "github", github.secrets[1])}
    config = tmp_path / "config.yaml"
    config.write_text(ROUTES % files)
    proxy = make_proxy("--config", str(config))

    stripe_key, github_key = new_key(), new_key()
    body, headers = stripe.delivery(stripe_key, stripe.secrets[0])
    assert proxy.request("POST", "/webhooks/stripe", body, headers).status == 200
    body, headers = github.delivery(github_key, github.secrets[1])
    assert proxy.request("POST", "/webhooks/github", body, headers).status == 200
    # Each route knows only its own scheme and secret.
    body, headers = github.delivery(new_key(), github.secrets[1])
    assert proxy.request("POST", "/webhooks/stripe", body, headers).status == 401
    body, headers = github.delivery(new_key(), stripe.secrets[0])
    assert proxy.request("POST", "/webhooks/github", body, headers).status == 401
    # A route without a scheme, and requests no route matches: today's behaviour.
    assert proxy.deliver("order-1", path="/orders").status == 200
    assert proxy.request("POST", "/elsewhere", b"{}").status == 200
    assert upstream.count(stripe_key) == 1 and upstream.count(github_key) == 1
    assert upstream.count("order-1") == 1

    check = subprocess.run([str(proxy.binary), "--check-config", "--config", str(config),
                            "--upstream", "http://127.0.0.1:9"],
                           capture_output=True, text=True, timeout=30, env=child_env())
    assert check.returncode == 0, check.stderr
    assert ("signature: stripe (Stripe-Signature), 1 secret from %s" % files["stripe"]
            in check.stdout)
    assert "signature: github (X-Hub-Signature-256)" in check.stdout
    assert "signature: not verified" in check.stdout


def test_no_signature_configured_is_todays_behaviour(make_proxy, upstream):
    proxy = make_proxy("--key", "stripe")
    body = json.dumps({"id": "evt_unsigned", "object": "event"}).encode()
    assert proxy.request("POST", "/hook", body).status == 200
    again = proxy.request("POST", "/hook", body, {"Stripe-Signature": "t=1,v1=00"})
    assert again.status == 200 and again.replayed
    assert upstream.count("evt_unsigned") == 1


def test_sighup_rereads_the_secret_file(signed_proxy, upstream):
    scheme = Stripe()
    old, new = scheme.secrets
    proxy = signed_proxy(scheme, old)
    body, headers = scheme.delivery(new_key(), new)
    assert proxy.request("POST", "/hook", body, headers).status == 401

    write_secrets(proxy.secret_file, new, old)  # rotation: both while the sender switches
    start = len(proxy.log.snapshot())
    proxy.signal(signal.SIGHUP)
    assert proxy.log.wait_for("signature secrets reloaded", timeout=10, start_index=start)
    assert proxy.request("POST", "/hook", body, headers).status == 200
    body, headers = scheme.delivery(new_key(), old)
    assert proxy.request("POST", "/hook", body, headers).status == 200

    write_secrets(proxy.secret_file, new)  # the old secret retired
    start = len(proxy.log.snapshot())
    proxy.signal(signal.SIGHUP)
    assert proxy.log.wait_for("signature secrets reloaded", timeout=10, start_index=start)
    body, headers = scheme.delivery(new_key(), old)
    assert proxy.request("POST", "/hook", body, headers).status == 401

    # A broken file is refused; the secrets in force stay.
    proxy.secret_file.write_text("\n")
    start = len(proxy.log.snapshot())
    proxy.signal(signal.SIGHUP)
    assert proxy.log.wait_for("signature secrets not reloaded", timeout=10, start_index=start)
    assert proxy.running()
    body, headers = scheme.delivery(new_key(), new)
    assert proxy.request("POST", "/hook", body, headers).status == 200


@pytest.mark.parametrize("args, message", [
    (["--signature", "sns"], "signature: must be one of stripe, github"),
    (["--signature", "github"], "needs a secret file"),
    (["--key", "gcp-pubsub", "--signature-secret-file", "SECRETS"], "names no signature scheme"),
    (["--key", "github", "--signature-secret-file", "MISSING"], "cannot read"),
    (["--key", "github", "--signature-secret-file", "EMPTY"], "holds no secret"),
    (["--key", "standard-webhooks", "--signature-secret-file", "SECRETS"],
     "line 1: not a Standard Webhooks secret"),
])
def test_signature_config_errors_exit_2(proxy_bin, tmp_path, args, message):
    files = {"SECRETS": write_secrets(tmp_path / "secrets", "not base64!"),
             "MISSING": tmp_path / "missing", "EMPTY": write_secrets(tmp_path / "empty")}
    args = [str(files.get(a, a)) for a in args]
    result = subprocess.run([str(proxy_bin), "--upstream", "http://127.0.0.1:9", "--check-config",
                             *args], capture_output=True, text=True, timeout=30, env=child_env())
    assert result.returncode == 2, result
    assert message in result.stderr, result.stderr
    assert "not base64!" not in result.stderr, "a secret is never echoed"


NODE = shutil.which("node")
SENDERS_DIR = HERE / "senders"


@pytest.mark.skipif(NODE is None or not (SENDERS_DIR / "node_modules").is_dir(),
                    reason="node or tests/integration/senders/node_modules missing "
                           "(scripts/setup.sh)")
def test_standardwebhooks_npm_library_signs_what_the_proxy_accepts(make_proxy, upstream,
                                                                    tmp_path):
    secret = StandardWebhooks.secrets[1]
    secret_file = write_secrets(tmp_path / "secrets", StandardWebhooks.secrets[0], secret)
    proxy = make_proxy("--key", "standard-webhooks", "--signature-secret-file", str(secret_file))

    def send(signing_secret):
        done = subprocess.run([NODE, str(SENDERS_DIR / "standardwebhooks_sender.mjs"),
                               proxy.url + "/hook", signing_secret, "3"],
                              capture_output=True, text=True, timeout=60, env=child_env())
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    sent = send(secret)
    assert [r["status"] for r in sent["replies"]] == [200, 200, 200]
    assert [r["headers"].get("idempotent-replayed") for r in sent["replies"]] == [
        None, "true", "true"]
    assert upstream.count(sent["id"]) == 1

    forged = send("whsec_" + base64.b64encode(b"not the secret").decode())
    assert [r["status"] for r in forged["replies"]] == [401, 401, 401]
    assert upstream.count(forged["id"]) == 0
    wait_until(lambda: upstream.stats()["received"] == 1, 5, message="nothing else reached the app")
