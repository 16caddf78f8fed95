"""Key specs other than a header, through the real binary."""

import json


def test_json_pointer_key_deduplicates_by_a_body_field(make_proxy, upstream):
    proxy = make_proxy("--key", "json:/message/messageId")
    body = json.dumps({"message": {"messageId": "m-1", "data": "eA=="}}).encode()
    first = proxy.deliver(None, body=body)
    again = proxy.deliver(None, body=body)
    assert first.status == 200
    assert again.status == 200 and again.header("Idempotent-Replayed") == "true"
    assert upstream.count("m-1") == 1
    assert proxy.deliver(None, body=b"{not json").status == 400


def test_cloudevents_key_is_source_and_id_and_batches_are_refused(make_proxy, upstream):
    proxy = make_proxy("--key", "cloudevents")
    headers = {"ce-id": "e-1", "ce-source": "/orders", "ce-specversion": "1.0",
               "ce-type": "order.created"}
    assert proxy.deliver(None, headers=headers).status == 200
    assert proxy.deliver(None, headers=headers).header("Idempotent-Replayed") == "true"
    # The app sees the derived key percent-encoded: it joins source and id with a newline.
    assert upstream.count("/orders%0Ae-1") == 1
    batch = proxy.deliver(None, body=b"[]",
                          headers={"Content-Type": "application/cloudevents-batch+json"})
    assert batch.status == 400


def test_fallback_chain_uses_the_body_hash_when_the_header_is_missing(make_proxy, upstream):
    proxy = make_proxy("--key", "header:Idempotency-Key|body-sha256")
    assert proxy.deliver(None, body=b'{"n":1}').status == 200
    assert proxy.deliver(None, body=b'{"n":1}').header("Idempotent-Replayed") == "true"
    assert proxy.deliver(None, body=b'{"n":2}').header("Idempotent-Replayed") is None
    assert upstream.stats()["received"] == 2
