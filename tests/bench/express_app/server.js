// The Express consumer of tests/bench/run.sh (not part of the test suite):
// one Node process, one thread, as a typical webhook consumer runs. Reads
// every request body fully (raw bytes, whatever the Content-Type) and answers
// 200 with a small JSON body; GET / answers the same, for the readiness check.
//
//   node server.js PORT        listens on 127.0.0.1:PORT
'use strict';
const express = require('express');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`usage: node server.js PORT (got ${process.argv[2]})`);
  process.exit(2);
}

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.use(express.raw({ type: () => true, limit: '1mb' }));

let received = 0;
app.post('*path', (req, res) => {
  const bytes = Buffer.isBuffer(req.body) ? req.body.length : 0;
  received += 1;
  res.status(200).json({ ok: true, bytes });
});
app.get('*path', (req, res) => {
  res.status(200).json({ ok: true, received });
});

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`express bench app on 127.0.0.1:${port}`);
});
server.keepAliveTimeout = 120000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
