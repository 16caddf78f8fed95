"""The admin port: exact delivery counters against what the app saw, and the
key API (inspect, forget, redeliver → processed again)."""

import json

from harness import http_request, in_background
from test_concurrency import scrape_metrics

TOKEN = "test-token-1234"


def outcome_counts(proxy):
    return {labels["outcome"]: value for labels, value in
            scrape_metrics(proxy).get("dedup_proxy_deliveries_total", [])}


def keys_api(proxy, method, key, token=TOKEN, route="default"):
    headers = {"Authorization": "Bearer " + token} if token else {}
    return http_request(proxy.admin_port, method, "/keys/%s/%s" % (route, key), headers=headers)


def test_counters_match_known_traffic_exactly(make_proxy, upstream):
    proxy = make_proxy()
    assert proxy.deliver("new-1").status == 200                          # forwarded
    assert proxy.deliver("new-1").status == 200                          # replayed
    assert proxy.deliver("new-1").status == 200                          # replayed
    assert proxy.deliver("new-1", body=b'{"other":1}').status == 422     # mismatch
    assert proxy.deliver("fail-1", headers={"X-Test-Status": "500"}).status == 500  # app_error
    assert proxy.deliver(None).status == 200                             # passthrough
    assert proxy.deliver("x" * 600).status == 400                        # rejected (key too long)
    slow = in_background(proxy.deliver, "slow-1", headers={"X-Test-Delay-Ms": "800"})
    upstream.wait_received("slow-1")
    assert proxy.deliver("slow-1").status == 409                         # in_flight
    assert slow.result(timeout=10).status == 200                         # forwarded

    counts = outcome_counts(proxy)
    expected = {"forwarded": 2, "replayed": 2, "mismatch": 1, "app_error": 1, "passthrough": 1,
                "rejected": 1, "in_flight": 1, "missing_key": 0, "store_error": 0,
                "app_unreachable": 0, "app_timeout": 0, "commit_failed": 0, "lease_lost": 0,
                "bad_signature": 0}
    assert counts == expected
    assert sum(counts.values()) == 9  # one per request sent
    assert upstream.count("new-1") == 1 and upstream.count("fail-1") == 1
    assert upstream.count("slow-1") == 1

    metrics = scrape_metrics(proxy)
    assert metrics["dedup_proxy_in_flight"][0][1] == 0
    assert metrics["dedup_proxy_build_info"][0][0]["version"]
    assert metrics["process_resident_memory_bytes"][0][1] > 0
    assert metrics["process_open_fds"][0][1] > 0


def test_key_api_inspects_and_forgets_so_the_next_delivery_is_processed_again(make_proxy,
                                                                               upstream):
    proxy = make_proxy("--admin-token", TOKEN)
    assert proxy.deliver("order/42").status == 200

    reply = keys_api(proxy, "GET", "order%2F42")
    assert reply.status == 200
    state = json.loads(reply.body)
    assert state["state"] == "committed" and state["key"] == "order/42"
    assert state["stored_status"] == 200 and state["attempt"] == 1

    assert keys_api(proxy, "GET", "never-seen").status == 404
    assert keys_api(proxy, "GET", "order%2F42", route="nope").status == 404
    assert keys_api(proxy, "GET", "order%2F42", token="wrong").status == 401
    assert keys_api(proxy, "GET", "order%2F42", token=None).status == 401

    reply = keys_api(proxy, "DELETE", "order%2F42")
    assert reply.status == 200 and json.loads(reply.body)["forgotten"] is True
    assert keys_api(proxy, "GET", "order%2F42").status == 404
    assert keys_api(proxy, "DELETE", "order%2F42").status == 404

    again = proxy.deliver("order/42")
    assert again.status == 200 and again.header("Idempotent-Replayed") is None
    assert upstream.count("order/42") == 2


def test_key_api_shows_in_flight_and_refuses_to_forget_it(make_proxy, upstream):
    proxy = make_proxy("--admin-token", TOKEN)
    slow = in_background(proxy.deliver, "busy", headers={"X-Test-Delay-Ms": "800"})
    upstream.wait_received("busy")
    reply = keys_api(proxy, "GET", "busy")
    assert reply.status == 200
    state = json.loads(reply.body)
    assert state["state"] == "in_flight" and state["lease_expires_in_ms"] > 0
    assert keys_api(proxy, "DELETE", "busy").status == 409
    assert slow.result(timeout=10).status == 200


def test_key_api_is_off_without_a_token(proxy):
    assert keys_api(proxy, "GET", "anything").status == 404
