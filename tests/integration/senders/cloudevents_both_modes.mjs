// Sends one CloudEvent twice with the official `cloudevents` SDK: first in
// binary mode, then the same event (same id, source, time, data) in
// structured mode, as a producer that changed its emitter between retries
// would. Usage: node cloudevents_both_modes.mjs URL
// Prints one JSON document: the event's id and source and both answers
// ({status, headers, body}).
import { CloudEvent, HTTP } from "cloudevents";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: cloudevents_both_modes.mjs URL");
  process.exit(2);
}

const event = new CloudEvent({
  type: "com.example.order.created",
  source: "/orders/eu-west-1",
  subject: "order-1842",
  datacontenttype: "application/json",
  data: { orderId: 1842, total: "19.90", currency: "EUR", note: "café" },
  priority: 7,
});

const replies = [];
for (const message of [HTTP.binary(event), HTTP.structured(event)]) {
  const response = await fetch(url, { method: "POST", headers: message.headers, body: message.body });
  replies.push({
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  });
}
console.log(JSON.stringify({ id: event.id, source: event.source, replies }));
