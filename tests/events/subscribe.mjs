// A GraphQL-over-WebSocket subscriber for tests/api/events.rs.
//
//   node subscribe.mjs URL PROTOCOL TOKEN QUERY
//
// PROTOCOL is `graphql-transport-ws` (spoken by the graphql-ws client library) or
// `graphql-ws` (the legacy subscriptions-transport-ws protocol, spoken here message by
// message over the `ws` package). Prints {"ready": true} once subscribed, then one JSON line
// per message (`{"next": …}`, `{"error": …}`, `{"complete": true}`, `{"closed": CODE}`), and
// exits when the subscription ends or stdin closes.
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';

const [url, protocol, token, query] = process.argv.slice(2);
const print = (value) => console.log(JSON.stringify(value));
const payload = token ? { authorization: `Bearer ${token}` } : {};
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

if (protocol === 'graphql-transport-ws') {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: payload,
    retryAttempts: 0,
    lazy: false,
    on: {
      closed: (event) => {
        print({ closed: event.code, reason: event.reason });
        process.exit(0);
      },
    },
  });
  client.subscribe(
    { query },
    {
      next: (value) => print({ next: value }),
      error: (error) => {
        print({ error: Array.isArray(error) ? error : String(error?.message ?? error) });
        process.exit(0);
      },
      complete: () => {
        print({ complete: true });
        process.exit(0);
      },
    },
  );
  // graphql-ws sends `subscribe` after the server's `connection_ack`.
  client.on('connected', () => setTimeout(() => print({ ready: true }), 50));
} else {
  const socket = new WebSocket(url, 'graphql-ws');
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'connection_ack') {
      socket.send(JSON.stringify({ id: '1', type: 'start', payload: { query } }));
      setTimeout(() => print({ ready: true }), 50);
    } else if (message.type === 'data') {
      print({ next: message.payload });
    } else if (message.type === 'error' || message.type === 'connection_error') {
      print({ error: message.payload });
    } else if (message.type === 'complete') {
      print({ complete: true });
      process.exit(0);
    }
  });
  socket.on('close', (code, reason) => {
    print({ closed: code, reason: reason.toString() });
    process.exit(0);
  });
}
