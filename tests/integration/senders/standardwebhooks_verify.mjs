// The app's side of Standard Webhooks: verifies one received request with the
// official `standardwebhooks` package. Usage:
//   node standardwebhooks_verify.mjs SECRET < {"headers": {...}, "body_base64": "..."}
// Exit 0 and prints the verified payload's JSON when the signature holds; 1 otherwise.
import { Webhook } from "standardwebhooks";

const [secret] = process.argv.slice(2);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { headers, body_base64: bodyBase64 } = JSON.parse(input);
try {
  const payload = new Webhook(secret).verify(Buffer.from(bodyBase64, "base64"), headers);
  console.log(JSON.stringify(payload));
} catch (error) {
  console.error("verification failed: " + error.message);
  process.exit(1);
}
