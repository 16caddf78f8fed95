"""Every preset through the real binary, with deliveries shaped the way each
sender's public documentation shows them (headers, bodies, what changes on a
redelivery). One row per preset: the message reaches the app exactly once, and
the sender gets its profile's exact answer for a duplicate, a duplicate while
the first delivery is still at the app, the same key with another payload, and
the dedup store being down.

The fixtures are our own, modelled on the documented shapes; signatures are
real HMACs over the payload so a redelivery's new signature is realistic.
"""

import base64
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass, field

import pytest

from harness import REPO_ROOT, in_background, request_header

# An answer's body: the app's first answer replayed, or an RFC 9457 problem.
REPLAY = "replay"
PROBLEM = "problem"


@dataclass
class Expect:
    """What the sender must get in one case."""

    status: int
    body: object = PROBLEM  # REPLAY, PROBLEM, or the exact bytes
    content_type: object = None  # with exact bytes: the Content-Type (None: absent)
    retry_after: bool = False
    replayed: bool = False  # Idempotent-Replayed: true


@dataclass
class Sender:
    """One preset and how its sender delivers and redelivers a message."""

    preset: str
    path: str
    # delivery(n) -> (headers, body): the n-th delivery of one message (1: the
    # first), as the sender sends it again (new signature, new attempt, ...).
    delivery: object
    # (headers, body): the same key with another payload.
    other_payload: object
    app_key: str  # the Dedup-Key the app sees
    duplicate: Expect
    in_flight: Expect
    mismatch: Expect  # for a profile without fingerprint: the duplicate answer
    store_error: Expect
    # Headers the app must receive exactly as the sender sent them.
    passed_through: tuple = field(default_factory=tuple)

    def __str__(self):
        return self.preset


def compact(document):
    return json.dumps(document, separators=(",", ":")).encode()


def hmac_hex(secret, message):
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def hmac_base64(secret, message):
    return base64.b64encode(hmac.new(secret, message, hashlib.sha256).digest()).decode()


# -- idempotency-key: draft-ietf-httpapi-idempotency-key-header -----------------
# The draft's key is a Structured Field string, quotes included.

IDEMPOTENCY_KEY = '"8e03978e-40d5-43e8-bc93-6894a57f9324"'


def idempotency_key_request(body):
    return {"Content-Type": "application/json", "Idempotency-Key": IDEMPOTENCY_KEY}, body


def idempotency_key_delivery(_attempt):
    return idempotency_key_request(compact({"amount": 1000, "currency": "usd",
                                            "customer": "cus_Q1"}))


# -- gcp-pubsub: a push subscription's envelope ---------------------------------

PUBSUB_ID = "2070443601311540"


def pubsub_envelope(attempt, data=b"Hello Cloud Pub/Sub! Here is my message!"):
    body = compact({
        "message": {
            "attributes": {"origin": "checkout", "eventType": "ORDER_PLACED"},
            "data": base64.b64encode(data).decode(),
            "messageId": PUBSUB_ID,
            "message_id": PUBSUB_ID,
            "publishTime": "2026-11-30T05:13:55.749Z",
            "publish_time": "2026-11-30T05:13:55.749Z",
        },
        "subscription": "projects/myproject/subscriptions/mysubscription",
        # Present when the subscription has a dead-letter topic; counts up.
        "deliveryAttempt": attempt,
    })
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
        "Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2V4YW1wbGUuY29tIn0.c2ln",
    }
    return headers, body


# -- aws-sns: an HTTP(S) subscription's Notification ----------------------------

SNS_TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"
SNS_ID = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
SNS_SUBSCRIPTION = SNS_TOPIC + ":c9135db0-26c4-47ec-8998-413945fb5a96"
SNS_CERT = ("https://sns.us-west-2.amazonaws.com/"
            "SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem")


def sns_signature(seed):
    """Stands in for SNS's base64 RSA signature (128 bytes): fixed per message."""
    digest = hashlib.sha512(seed.encode()).digest()
    return base64.b64encode(digest + digest[::-1]).decode()


def sns_request(message_type, message_id, document):
    headers = {
        "x-amz-sns-message-type": message_type,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": SNS_TOPIC,
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    if message_type == "Notification":
        headers["x-amz-sns-subscription-arn"] = SNS_SUBSCRIPTION
    return headers, compact(document)


def sns_notification(message="Hello from SNS"):
    return sns_request("Notification", SNS_ID, {
        "Type": "Notification",
        "MessageId": SNS_ID,
        "TopicArn": SNS_TOPIC,
        "Subject": "My First Message",
        "Message": message,
        "Timestamp": "2026-11-30T05:12:43.378Z",
        "SignatureVersion": "1",
        "Signature": sns_signature(SNS_ID + message),
        "SigningCertURL": SNS_CERT,
        "UnsubscribeURL": ("https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe"
                           "&SubscriptionArn=" + SNS_SUBSCRIPTION),
    })


def sns_handshake(message_type, message_id):
    token = hashlib.sha512(message_id.encode()).hexdigest() * 2
    return sns_request(message_type, message_id, {
        "Type": message_type,
        "MessageId": message_id,
        "Token": token,
        "TopicArn": SNS_TOPIC,
        "Message": "You have chosen to subscribe to the topic %s.\nTo confirm the subscription, "
                   "visit the SubscribeURL included in this message." % SNS_TOPIC,
        "SubscribeURL": ("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
                         "&TopicArn=%s&Token=%s" % (SNS_TOPIC, token)),
        "Timestamp": "2026-11-30T05:10:03.394Z",
        "SignatureVersion": "1",
        "Signature": sns_signature(message_id),
        "SigningCertURL": SNS_CERT,
    })


# -- stripe: an Event, signed with a new timestamp on every delivery ------------

STRIPE_SECRET = b"whsec_test_5BBLUJKpvW6trtPi3nmTDfz0"
STRIPE_EVENT = "evt_1NG8Du2eZvKYlo2CUI79vXWy"


def stripe_event(amount=2000):
    return compact({
        "id": STRIPE_EVENT,
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1796015000,
        "data": {"object": {"id": "pi_3NG8Dt2eZvKYlo2C0k0k0k0k", "object": "payment_intent",
                            "amount": amount, "currency": "usd", "status": "succeeded"}},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_8dHhRdyg8Yf1dT", "idempotency_key": "a6f9c2e0-5a43"},
        "type": "payment_intent.succeeded",
    })


def stripe_request(attempt, body):
    timestamp = 1796015000 + 60 * attempt
    signed = b"%d.%s" % (timestamp, body)
    signature = "t=%d,v1=%s,v0=%s" % (timestamp, hmac_hex(STRIPE_SECRET, signed),
                                       hmac_hex(b"v0" + STRIPE_SECRET, signed))
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Stripe-Signature": signature,
        "Cache-Control": "no-cache",
    }, body


# -- github: a push event -------------------------------------------------------

GITHUB_SECRET = b"It's a Secret to Everybody"
GITHUB_DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def github_request(body):
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Delivery": GITHUB_DELIVERY,
        "X-GitHub-Event": "push",
        "X-GitHub-Hook-ID": "292430182",
        "X-GitHub-Hook-Installation-Target-ID": "79929171",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-Hub-Signature": "sha1=" + hmac.new(GITHUB_SECRET, body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + hmac_hex(GITHUB_SECRET, body),
    }, body


def github_push(head="6113728f27ae82c7b1a177c8d03f9e96e0adf246"):
    return compact({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": head,
        "repository": {"id": 79929171, "full_name": "octocat/Hello-World", "private": False},
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
        "sender": {"login": "octocat", "id": 1, "type": "User"},
        "commits": [{"id": head, "message": "Fix all the bugs", "distinct": True}],
    })


# -- standard-webhooks: webhook-id, webhook-timestamp, webhook-signature -------

STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STANDARD_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def standard_webhooks_request(attempt, body):
    timestamp = str(1796015000 + 5 * attempt)
    key = base64.b64decode(STANDARD_SECRET[len("whsec_"):])
    signed = ("%s.%s." % (STANDARD_ID, timestamp)).encode() + body
    return {
        "Content-Type": "application/json",
        "webhook-id": STANDARD_ID,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + hmac_base64(key, signed),
    }, body


def standard_webhooks_payload(email="john@example.com"):
    return compact({"type": "contact.created", "timestamp": "2026-11-30T05:26:10.344522Z",
                    "data": {"id": "c_1", "email": email}})


# -- shopify: an orders/create webhook -------------------------------------------

SHOPIFY_SECRET = b"hush"
SHOPIFY_WEBHOOK_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def shopify_request(attempt, body):
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": hmac_base64(SHOPIFY_SECRET, body),
        "X-Shopify-Shop-Domain": "example-shop.myshopify.com",
        "X-Shopify-API-Version": "2024-07",
        "X-Shopify-Webhook-Id": SHOPIFY_WEBHOOK_ID,
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2026-11-30T05:00:27.%09dZ" % attempt,
    }, body


def shopify_order(total="199.65"):
    return compact({"id": 820982911946154508, "email": "jon@example.com",
                    "total_price": total, "currency": "USD", "financial_status": "paid",
                    "line_items": [{"id": 866550311766439020, "quantity": 1, "sku": "IPOD"}]})


# -- slack: an Events API event_callback ------------------------------------------

SLACK_SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
SLACK_EVENT_ID = "Ev0PV52K21"


def slack_request(attempt, body):
    # Each retry is signed anew and says which retry it is.
    timestamp = str(1700000000 + attempt).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp.decode(),
        "X-Slack-Signature": "v0=" + hmac_hex(SLACK_SECRET, b"v0:" + timestamp + b":" + body),
    }
    if attempt > 1:
        headers.update({"X-Slack-Retry-Num": str(attempt - 1),
                        "X-Slack-Retry-Reason": "http_timeout"})
    return headers, body


def slack_event(text="<@U0LAN0Z89> is it everything a river should be?"):
    return compact({"token": "XXYYZZ", "team_id": "T123ABC456", "api_app_id": "A123ABC456",
                    "event": {"type": "app_mention", "user": "U123ABC456", "text": text,
                              "ts": "1515449522.000016", "channel": "C123ABC456"},
                    "type": "event_callback", "event_id": SLACK_EVENT_ID,
                    "event_time": 1515449522})


# -- knative: a broker's binary-mode CloudEvent ----------------------------------

KNATIVE_SOURCE = "/apis/v1/namespaces/default/pingsources/ping"
KNATIVE_ID = "d8e09b7b-0d3f-4bfa-9e83-5b1a7c8d9e01"


def knative_request(data=b'{"message":"Hello world!"}'):
    return {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": KNATIVE_ID,
        "ce-source": KNATIVE_SOURCE,
        "ce-type": "dev.knative.sources.ping",
        "ce-time": "2026-11-30T05:10:00.000Z",
        "ce-knativearrivaltime": "2026-11-30T05:10:00.012Z",
        "Prefer": "reply",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }, data


# -- dapr: a pub/sub subscription's structured CloudEvent ------------------------

DAPR_ID = "5929aaac-a5e2-4ca1-859c-edfe73f11565"


def dapr_request(order_id=100):
    return {
        "Content-Type": "application/cloudevents+json",
        "traceparent": "00-ef2a2d0f0ab3a2d7c3c1c3b7d6e5f4a1-8a3c60f7d188f8fa-01",
        "pubsubname": "orderpubsub",
        "topic": "orders",
    }, compact({
        "specversion": "1.0",
        "type": "com.dapr.event.sent",
        "source": "checkout",
        "id": DAPR_ID,
        "datacontenttype": "application/json",
        "data": {"orderId": order_id},
        "topic": "orders",
        "pubsubname": "orderpubsub",
        "traceid": "00-ef2a2d0f0ab3a2d7c3c1c3b7d6e5f4a1-8a3c60f7d188f8fa-01",
        "traceparent": "00-ef2a2d0f0ab3a2d7c3c1c3b7d6e5f4a1-8a3c60f7d188f8fa-01",
        "tracestate": "",
    })


STORE_DOWN = Expect(503, retry_after=True)

SENDERS = [
    Sender("idempotency-key", "/payments",
           idempotency_key_delivery,
           idempotency_key_request(compact({"amount": 9999, "currency": "usd",
                                            "customer": "cus_Q1"})),
           IDEMPOTENCY_KEY,
           duplicate=Expect(200, REPLAY, replayed=True),
           in_flight=Expect(409, retry_after=True),
           mismatch=Expect(422),
           store_error=STORE_DOWN,
           passed_through=("Idempotency-Key",)),
    Sender("gcp-pubsub", "/pubsub/push",
           pubsub_envelope,
           # Another deliveryAttempt (and, without a fingerprint, even other
           # data) under the same messageId is the same message.
           pubsub_envelope(5, data=b"something else"),
           PUBSUB_ID,
           duplicate=Expect(204, b"", replayed=True),
           in_flight=Expect(409, retry_after=True),
           mismatch=Expect(204, b"", replayed=True),
           store_error=STORE_DOWN,
           passed_through=("Authorization", "User-Agent")),
    Sender("aws-sns", "/sns",
           lambda _attempt: sns_notification(),
           sns_notification(message="Another message"),
           SNS_ID,
           duplicate=Expect(200, REPLAY, replayed=True),
           in_flight=Expect(503, retry_after=True),
           mismatch=Expect(500),
           store_error=STORE_DOWN,
           passed_through=("x-amz-sns-message-type", "x-amz-sns-topic-arn")),
    Sender("stripe", "/webhooks/stripe",
           lambda attempt: stripe_request(attempt, stripe_event()),
           stripe_request(9, stripe_event(amount=1)),
           STRIPE_EVENT,
           duplicate=Expect(200, REPLAY, replayed=True),
           in_flight=Expect(409, retry_after=True),
           # No fingerprint: a re-rendered redelivery of evt_… is a duplicate.
           mismatch=Expect(200, REPLAY, replayed=True),
           store_error=STORE_DOWN,
           passed_through=("Stripe-Signature",)),
    Sender("github", "/webhooks/github",
           lambda _attempt: github_request(github_push()),
           github_request(github_push(head="a" * 40)),
           GITHUB_DELIVERY,
           duplicate=Expect(200, REPLAY, replayed=True),
           in_flight=Expect(409, retry_after=True),
           mismatch=Expect(422),
           store_error=STORE_DOWN,
           passed_through=("X-GitHub-Event", "X-Hub-Signature-256")),
    Sender("standard-webhooks", "/webhooks",
           lambda attempt: standard_webhooks_request(attempt, standard_webhooks_payload()),
           standard_webhooks_request(9, standard_webhooks_payload(email="jane@example.com")),
           STANDARD_ID,
           duplicate=Expect(200, REPLAY, replayed=True),
           in_flight=Expect(409, retry_after=True),
           mismatch=Expect(422),
           store_error=STORE_DOWN,
           passed_through=("webhook-timestamp", "webhook-signature")),
    Sender("shopify", "/webhooks/shopify",
           lambda attempt: shopify_request(attempt, shopify_order()),
           shopify_request(9, shopify_order(total="1.00")),
           SHOPIFY_WEBHOOK_ID,
           duplicate=Expect(200, REPLAY, replayed=True),
           in_flight=Expect(409, retry_after=True),
           mismatch=Expect(422),
           store_error=STORE_DOWN,
           passed_through=("X-Shopify-Hmac-Sha256", "X-Shopify-Topic")),
    Sender("slack", "/slack/events",
           lambda attempt: slack_request(attempt, slack_event()),
           slack_request(9, slack_event(text="another message")),
           SLACK_EVENT_ID,
           duplicate=Expect(200, REPLAY, replayed=True),
           in_flight=Expect(409, retry_after=True),
           mismatch=Expect(422),
           store_error=STORE_DOWN,
           passed_through=("X-Slack-Signature", "X-Slack-Request-Timestamp")),
    Sender("knative", "/",
           lambda _attempt: knative_request(),
           knative_request(data=b'{"message":"Goodbye"}'),
           KNATIVE_SOURCE + "%0A" + KNATIVE_ID,  # source and id, joined by a newline
           duplicate=Expect(202, b"", replayed=True),
           in_flight=Expect(429, retry_after=True),
           mismatch=Expect(422),
           store_error=STORE_DOWN,
           passed_through=("ce-type", "Prefer")),
    Sender("dapr", "/orders",
           lambda _attempt: dapr_request(),
           dapr_request(order_id=101),
           DAPR_ID,
           duplicate=Expect(200, b'{"status":"SUCCESS"}', "application/json", replayed=True),
           in_flight=Expect(200, b'{"status":"RETRY"}', "application/json", retry_after=True),
           mismatch=Expect(422),
           store_error=STORE_DOWN,
           passed_through=("traceparent",)),
]

SNS_SENDER = next(sender for sender in SENDERS if sender.preset == "aws-sns")


def check(reply, expect, first=None, preset=None):
    """`reply` is exactly the answer `expect` describes (`first`: the app's
    answer a replay must repeat)."""
    assert reply.status == expect.status, str(reply)
    if expect.body == REPLAY:
        assert reply.body == first.body, str(reply)
        assert reply.header("Content-Type") == first.header("Content-Type"), str(reply)
    elif expect.body == PROBLEM:
        assert reply.header("Content-Type") == "application/problem+json", str(reply)
        assert reply.json()["status"] == expect.status, str(reply)
    else:
        assert reply.body == expect.body, str(reply)
        assert reply.header("Content-Type") == expect.content_type, str(reply)
    retry_after = reply.header("Retry-After")
    if expect.retry_after:
        assert retry_after is not None and int(retry_after) >= 1, str(reply)
    else:
        assert retry_after is None, str(reply)
    assert (reply.header("Idempotent-Replayed") == "true") == expect.replayed, str(reply)
    if preset == "aws-sns":
        # SNS counts any 4xx as delivered and drops the message for good.
        assert not 400 <= reply.status < 500, str(reply)


def send(proxy, sender, request, extra=None):
    headers, body = request
    return proxy.request("POST", sender.path, body, dict(headers, **(extra or {})))


def preset_proxy(make_proxy, sender, *extra):
    return make_proxy("--key", sender.preset, *extra)


@pytest.mark.parametrize("sender", SENDERS, ids=str)
def test_redeliveries_reach_the_app_once(make_proxy, upstream, sender):
    proxy = preset_proxy(make_proxy, sender)
    hold = uuid.uuid4().hex
    first_request = sender.delivery(1)
    first = in_background(send, proxy, sender, first_request, {"X-Test-Hold": hold})
    try:
        upstream.wait_received(sender.app_key)
        # The sender retries while the first delivery is still at the app.
        check(send(proxy, sender, sender.delivery(2)), sender.in_flight, preset=sender.preset)
    finally:
        upstream.release(hold)
    first_reply = first.result(timeout=30)
    assert first_reply.status == 200 and not first_reply.replayed, str(first_reply)
    assert first_reply.json()["key"] == sender.app_key

    for attempt in (3, 4):
        check(send(proxy, sender, sender.delivery(attempt)), sender.duplicate, first_reply,
              preset=sender.preset)

    record = upstream.key(sender.app_key)
    assert record["count"] == 1, record
    assert record["attempts"] == ["1"]
    assert record["bodies"] == [first_request[1].decode("latin-1")], "the body arrives as sent"
    for name in sender.passed_through:
        assert request_header(record["headers"][0], name) == first_request[0][name], name
    assert upstream.stats()["received"] == 1


@pytest.mark.parametrize("sender", SENDERS, ids=str)
def test_same_key_with_another_payload(make_proxy, upstream, sender):
    proxy = preset_proxy(make_proxy, sender)
    first = send(proxy, sender, sender.delivery(1))
    assert first.status == 200, str(first)
    check(send(proxy, sender, sender.other_payload), sender.mismatch, first,
          preset=sender.preset)
    assert upstream.count(sender.app_key) == 1
    assert upstream.stats()["received"] == 1


@pytest.mark.parametrize("sender", SENDERS, ids=str)
def test_store_unavailable(make_proxy, upstream, dead_port, sender):
    # A Redis store nobody answers at: every begin fails fast.
    proxy = make_proxy("--key", sender.preset, "--store", "redis://127.0.0.1:%d" % dead_port,
                       "--redis-connect-timeout", "200ms", "--redis-command-timeout", "200ms",
                       wait_ready=False)  # never ready: /readyz reports the store
    for attempt in (1, 2):
        check(send(proxy, sender, sender.delivery(attempt)), sender.store_error,
              preset=sender.preset)
    assert upstream.stats()["received"] == 0, "fail closed: nothing reaches the app unchecked"


@pytest.mark.parametrize("sender", SENDERS, ids=str)
def test_app_failure_is_passed_on_and_the_redelivery_reaches_the_app(make_proxy, upstream,
                                                                       sender):
    proxy = preset_proxy(make_proxy, sender)
    failed = send(proxy, sender, sender.delivery(1), {"X-Test-Status": "503"})
    assert failed.status == 503 and not failed.replayed, "the app's own answer, unchanged"
    retried = send(proxy, sender, sender.delivery(2))
    assert retried.status == 200 and not retried.replayed, str(retried)
    record = upstream.key(sender.app_key)
    assert record["count"] == 2, "the failed delivery released the key"
    assert record["attempts"] == ["1", "2"], "the app saw the failed delivery"


@pytest.mark.parametrize("sender", SENDERS, ids=str)
def test_app_down_is_a_5xx(make_proxy, dead_port, sender):
    # Every sender retries a 5xx; none of them may see a 4xx for our failure.
    proxy = make_proxy("--key", sender.preset, upstream_url="http://127.0.0.1:%d" % dead_port)
    for attempt in (1, 2):
        reply = send(proxy, sender, sender.delivery(attempt))
        assert reply.status == 502 and not reply.replayed, str(reply)


def test_sns_subscription_handshakes_are_always_forwarded(make_proxy, upstream):
    proxy = make_proxy("--key", "aws-sns")
    for message_type, message_id in (("SubscriptionConfirmation", "165545c9-2a5c-472c-8df2"),
                                     ("UnsubscribeConfirmation", "47138184-6831-46b8-8f7c")):
        request = sns_handshake(message_type, message_id)
        for _ in range(2):
            reply = send(proxy, SNS_SENDER, request)
            assert reply.status == 200 and not reply.replayed, str(reply)
    requests = upstream.requests_to("/sns")
    assert [request_header(r["headers"], "x-amz-sns-message-type") for r in requests] == [
        "SubscriptionConfirmation", "SubscriptionConfirmation",
        "UnsubscribeConfirmation", "UnsubscribeConfirmation"]
    assert all(r["key"] is None for r in requests), "handshakes are not deduplicated"


def test_sns_handshakes_are_forwarded_while_the_store_is_down(make_proxy, upstream, dead_port):
    proxy = make_proxy("--key", "aws-sns", "--store", "redis://127.0.0.1:%d" % dead_port,
                       "--redis-connect-timeout", "200ms", "--redis-command-timeout", "200ms",
                       wait_ready=False)
    request = sns_handshake("SubscriptionConfirmation", "165545c9-2a5c-472c-8df2")
    for _ in range(2):
        assert send(proxy, SNS_SENDER, request).status == 200
    assert len(upstream.requests_to("/sns")) == 2
    # A Notification needs the store: a 5xx, so SNS retries it.
    check(send(proxy, SNS_SENDER, sns_notification()), STORE_DOWN, preset="aws-sns")


def test_svix_id_names_a_standard_webhook_without_webhook_id(make_proxy, upstream):
    proxy = make_proxy("--key", "standard-webhooks")
    headers, body = standard_webhooks_request(1, standard_webhooks_payload())
    svix = {"Content-Type": "application/json", "svix-id": headers["webhook-id"],
            "svix-timestamp": headers["webhook-timestamp"],
            "svix-signature": headers["webhook-signature"]}
    first = proxy.request("POST", "/webhooks", body, svix)
    again = proxy.request("POST", "/webhooks", body, svix)
    assert first.status == 200 and again.replayed and again.body == first.body
    assert upstream.count(STANDARD_ID) == 1


def test_shopify_event_id_names_a_webhook_without_webhook_id(make_proxy, upstream):
    proxy = make_proxy("--key", "shopify")
    headers, body = shopify_request(1, shopify_order())
    del headers["X-Shopify-Webhook-Id"]
    first = proxy.request("POST", "/webhooks/shopify", body, headers)
    again = proxy.request("POST", "/webhooks/shopify", body, headers)
    assert first.status == 200 and again.replayed
    assert upstream.count(headers["X-Shopify-Event-Id"]) == 1


def test_pubsub_nack_from_the_app_lets_the_redelivery_through(make_proxy, upstream):
    # Pub/Sub acks only 102, 200, 201, 202 and 204: a 203 from the app is a
    # nack, so the key is released and the redelivery reaches the app.
    proxy = make_proxy("--key", "gcp-pubsub")
    headers, body = pubsub_envelope(1)
    nack = proxy.request("POST", "/pubsub/push", body, dict(headers, **{"X-Test-Status": "203"}))
    assert nack.status == 203
    headers, body = pubsub_envelope(2)
    assert proxy.request("POST", "/pubsub/push", body, headers).status == 200
    assert upstream.count(PUBSUB_ID) == 2


def readme_preset_rows():
    """{preset: {column: cell}} from the README's table of presets."""
    readme = (REPO_ROOT / "README.md").read_text()
    lines = [line for line in readme.splitlines() if line.startswith("| `")]
    header = next(line for line in readme.splitlines()
                  if line.startswith("| preset | key | duplicate"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    rows = {}
    for line in lines:
        # Split on the column bars, not on the `\|` inside a key spec.
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) != len(columns):
            continue
        preset = cells[0].split("`")[1]
        rows[preset] = dict(zip(columns, cells))
    return rows


def described(cell):
    """The answer a README cell names: 'replay', or the status code it starts with."""
    word = cell.split()[0].rstrip(",")
    return "replay" if word == "replay" else int(word)


def expected(expect):
    return "replay" if expect.body == REPLAY else expect.status


def test_readme_table_says_what_the_tests_assert():
    rows = readme_preset_rows()
    assert sorted(rows) == sorted(s.preset for s in SENDERS), "one README row per preset"
    for sender in SENDERS:
        row = rows[sender.preset]
        assert described(row["duplicate"]) == expected(sender.duplicate), sender.preset
        assert described(row["in flight"]) == expected(sender.in_flight), sender.preset
        assert ("Retry-After" in row["in flight"]) == sender.in_flight.retry_after
        assert described(row["store down"]) == expected(sender.store_error), sender.preset
        assert "Retry-After" in row["store down"]
        if row["mismatch"].startswith("off"):
            assert sender.mismatch == sender.duplicate, sender.preset
        else:
            assert described(row["mismatch"]) == expected(sender.mismatch), sender.preset
