import net from 'node:net';

/**
 * What the proxy does with traffic, switchable at run time:
 * - `pass`: forwards both ways.
 * - `latency`: forwards both ways, each chunk `latencyMs` late (order kept).
 * - `blackhole`: accepts connections and swallows every byte both ways,
 *   keeping the sockets open (a frozen server or a cut cable: the peer
 *   hears nothing, not even a close). Swallowed bytes are lost, as after a
 *   partition that outlasts TCP's retransmissions.
 * - `reset`: resets (RST) every open connection at once, and every new one on accept.
 * - `close-mid-query`: forwards the next chunk a client sends (its query),
 *   then closes that connection (FIN) before any answer can come back.
 */
export type FaultMode = 'pass' | 'latency' | 'blackhole' | 'reset' | 'close-mid-query';

/** A TCP proxy in front of one server, for fault tests. */
export interface FaultProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** The current mode. */
  readonly mode: FaultMode;
  /** Connections accepted since start: a reconnect shows as a new one. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  /** `url` (postgres:// or redis://) with its host and port pointed at the proxy. */
  wrap(url: string): string;
  /** Switches the mode; applies to open connections too. */
  set(mode: FaultMode, options?: { latencyMs?: number }): void;
  /** Closes (FIN) every open connection now, both sides, whatever the mode. */
  closeConnections(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

/** Starts a proxy on a free port of 127.0.0.1 in front of `target` (a URL whose host and port it forwards to). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  const targetHost = t.hostname;
  const targetPort = Number(t.port || (t.protocol.startsWith('redis') ? 6379 : 5432));
  let mode: FaultMode = 'pass';
  let latencyMs = 0;
  let accepted = 0;
  const pairs = new Set<Pair>();

  const end = (pair: Pair, how: 'fin' | 'rst') => {
    pairs.delete(pair);
    for (const s of [pair.client, pair.upstream]) {
      if (how === 'rst' && !s.destroyed && s.readyState === 'open') s.resetAndDestroy();
      else {
        s.end();
        s.destroy();
      }
    }
  };

  const forward = (pair: Pair, from: net.Socket, to: net.Socket, chunk: Buffer) => {
    switch (mode) {
      case 'pass':
        to.write(chunk);
        return;
      case 'latency':
        // Timers of equal delay fire in the order they were set: chunks stay in order.
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
        }, latencyMs);
        return;
      case 'blackhole':
        return;
      case 'reset':
        end(pair, 'rst');
        return;
      case 'close-mid-query':
        // Only what the client sends is let through; the answer never arrives.
        if (from === pair.client) {
          to.write(chunk);
          end(pair, 'fin');
        }
        return;
    }
  };

  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(targetPort, targetHost);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.on('close', () => {
        if (!pairs.has(pair)) return;
        // In a black hole even a close must not get through.
        if (mode === 'blackhole') return;
        end(pair, 'fin');
      });
    }
    client.on('data', (chunk: Buffer) => forward(pair, client, upstream, chunk));
    upstream.on('data', (chunk: Buffer) => forward(pair, upstream, client, chunk));
    if (mode === 'reset') {
      // Reset once the handshake is done, as a firewall rejecting the connection would.
      setImmediate(() => end(pair, 'rst'));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    wrap(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    set(next, options = {}) {
      mode = next;
      latencyMs = options.latencyMs ?? latencyMs;
      if (next === 'reset') for (const pair of [...pairs]) end(pair, 'rst');
    },
    closeConnections() {
      for (const pair of [...pairs]) end(pair, 'fin');
    },
    async close() {
      for (const pair of [...pairs]) end(pair, 'rst');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
