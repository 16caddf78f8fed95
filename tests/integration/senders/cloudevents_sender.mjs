// Sends one CloudEvent several times with the official `cloudevents` SDK, the
// way a retrying producer would. Usage:
//   node cloudevents_sender.mjs URL binary|structured COUNT
// The first COUNT-1 sends go through the SDK's own HTTP emitter
// (emitterFor(httpTransport(URL))), which reports no status; the last goes as
// the SDK's HTTP message (HTTP.binary / HTTP.structured) through fetch, so its
// status is known too. Prints one JSON document: the event's id and source and
// every answer ({status|null, headers, body}).
import { CloudEvent, emitterFor, httpTransport, HTTP, Mode } from "cloudevents";

const [url, modeName, countText] = process.argv.slice(2);
const count = Number.parseInt(countText ?? "2", 10);
if (!url || !["binary", "structured"].includes(modeName) || !(count >= 1)) {
  console.error("usage: cloudevents_sender.mjs URL binary|structured COUNT");
  process.exit(2);
}
const mode = modeName === "binary" ? Mode.BINARY : Mode.STRUCTURED;

const event = new CloudEvent({
  type: "com.example.order.created",
  source: "/orders/eu-west-1",
  subject: "order-1842",
  datacontenttype: "application/json",
  data: { orderId: 1842, total: "19.90", currency: "EUR" },
});

const replies = [];
const emit = emitterFor(httpTransport(url), { mode });
for (let i = 0; i < count - 1; i++) {
  const response = await emit(event);
  replies.push({ status: null, headers: response.headers, body: response.body });
}
const message = mode === Mode.BINARY ? HTTP.binary(event) : HTTP.structured(event);
const response = await fetch(url, { method: "POST", headers: message.headers, body: message.body });
replies.push({
  status: response.status,
  headers: Object.fromEntries(response.headers),
  body: await response.text(),
});
console.log(JSON.stringify({ id: event.id, source: event.source, replies }));
