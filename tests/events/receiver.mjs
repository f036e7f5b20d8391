// A webhook receiver for tests/api/events.rs. It verifies every request with the
// `standardwebhooks` package (an implementation independent of the server's), once per secret
// it was given, and answers with the statuses it is told to.
//
//   node receiver.mjs [PORT]     prints {"port": N} once listening on 127.0.0.1
//
// Control (JSON bodies):
//   POST /control/secrets   {"secrets": ["whsec_…", …]}
//   POST /control/statuses  {"queue": [503, 410], "default": 200, "bodyBytes": 0}
//                           (bodyBytes: answer with that many bytes of "x" instead of a word)
//   GET  /control/received  every webhook request so far, in arrival order
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.argv[2] ?? 0);
let secrets = [];
let queue = [];
let fallback = 200;
let bodyBytes = 0;
const received = [];

async function read(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function control(request, body, response) {
  if (request.method === 'POST' && request.url === '/control/secrets') {
    secrets = JSON.parse(body).secrets;
  } else if (request.method === 'POST' && request.url === '/control/statuses') {
    const wanted = JSON.parse(body);
    queue = wanted.queue ?? [];
    fallback = wanted.default ?? 200;
    bodyBytes = wanted.bodyBytes ?? 0;
  } else if (request.method === 'GET' && request.url === '/control/received') {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(received));
    return;
  } else {
    response.writeHead(404);
    response.end();
    return;
  }
  response.writeHead(204);
  response.end();
}

const server = http.createServer(async (request, response) => {
  const body = await read(request);
  if (request.url.startsWith('/control/')) {
    control(request, body, response);
    return;
  }
  const headers = {
    'webhook-id': request.headers['webhook-id'] ?? '',
    'webhook-timestamp': request.headers['webhook-timestamp'] ?? '',
    'webhook-signature': request.headers['webhook-signature'] ?? '',
  };
  const verifiedBy = secrets.map((secret) => {
    try {
      new Webhook(secret).verify(body, headers);
      return true;
    } catch {
      return false;
    }
  });
  const status = queue.length > 0 ? queue.shift() : fallback;
  let parsed = null;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = null;
  }
  received.push({
    id: headers['webhook-id'],
    timestamp: headers['webhook-timestamp'],
    signature: headers['webhook-signature'],
    contentType: request.headers['content-type'] ?? '',
    path: request.url,
    verifiedBy,
    status,
    raw: body,
    body: parsed,
  });
  response.writeHead(status, { 'content-type': 'text/plain' });
  if (bodyBytes > 0) response.end('x'.repeat(bodyBytes));
  else response.end(status < 300 ? 'ok' : `answering ${status}`);
});

server.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
