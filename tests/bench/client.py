#!/usr/bin/env python3
"""Fixed-count HTTP/1.1 keep-alive load for tests/bench/profile.sh (stdlib only).

  client.py URL MODE COUNT CONNS PREFIX
MODE: newkey (every request a new Idempotency-Key), replay (one key, committed
first by a request that is not counted). Prints the number of 2xx answers.
"""
import http.client
import sys
import threading
import urllib.parse

BODY = b'{"event":"bench","n":1}'


def main():
    url, mode, count, conns, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    u = urllib.parse.urlsplit(url)
    ok = [0] * conns

    def post(c, key):
        c.request("POST", "/events", BODY, {"Content-Type": "application/json", "Idempotency-Key": key})
        r = c.getresponse()
        r.read()
        return 200 <= r.status < 300

    if mode == "replay":
        c = http.client.HTTPConnection(u.hostname, u.port)
        post(c, f"{prefix}-replay")
        c.close()

    def run(i):
        c = http.client.HTTPConnection(u.hostname, u.port)
        for n in range(count // conns):
            key = f"{prefix}-replay" if mode == "replay" else f"{prefix}-{i}-{n}"
            ok[i] += post(c, key)
        c.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(sum(ok))


if __name__ == "__main__":
    main()
