// Delivers one Standard Webhooks message several times, signed by the official
// `standardwebhooks` package the way a sender retries: the same webhook-id and
// payload, a new webhook-timestamp and signature each time. Usage:
//   node standardwebhooks_sender.mjs URL SECRET COUNT
// Prints one JSON document: the message id and every answer ({status, headers, body}).
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";

const [url, secret, countText] = process.argv.slice(2);
const count = Number.parseInt(countText ?? "2", 10);
if (!url || !secret || !(count >= 1)) {
  console.error("usage: standardwebhooks_sender.mjs URL SECRET COUNT");
  process.exit(2);
}

const webhook = new Webhook(secret);
const id = "msg_" + randomUUID().replaceAll("-", "");
const payload = JSON.stringify({
  type: "invoice.paid",
  timestamp: new Date().toISOString(),
  data: { invoice: "in_1842", customer: "Zoë", amount: 1990 },
});

const replies = [];
for (let i = 0; i < count; i++) {
  // Each attempt is signed anew, one second apart, as a retrying sender does.
  const timestamp = new Date(Date.now() + i * 1000);
  const headers = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": webhook.sign(id, timestamp, payload),
  };
  const response = await fetch(url, { method: "POST", headers, body: payload });
  replies.push({
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  });
}
console.log(JSON.stringify({ id, replies }));
