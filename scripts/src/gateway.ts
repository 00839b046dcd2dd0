/**
 * The dev gateway: one URL for the web app, `/api/*` and the `/updates` WebSocket, the way
 * the cluster's ingress routes them. HTTP is proxied request by request; an upgrade is piped
 * as raw bytes to its target.
 */
import http from 'node:http';
import net from 'node:net';

export interface GatewayTargets {
  /** base URL of realtime (gets /updates) */
  realtime?: string;
  /** base URL of the api (gets everything else) */
  api?: string;
}

const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/** the api's internal routes, which the cluster's ingress answers 403 (infra/k8s/base/proteus/ingress.yaml) */
const INTERNAL = ['/events', '/metrics', '/healthz'];
const isInternal = (path: string) => INTERNAL.some((p) => path === p || path.startsWith(`${p}/`));

export function createGateway(targets: GatewayTargets) {
  const pick = (url: string | undefined) => {
    const path = new URL(url ?? '/', 'http://x').pathname;
    return path === '/updates' || path.startsWith('/updates/') ? targets.realtime : targets.api;
  };

  const server = http.createServer((req, res) => {
    if (isInternal(new URL(req.url ?? '/', 'http://x').pathname)) {
      res.writeHead(403, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'https://proteus.dev/problems/forbidden', title: 'Forbidden', status: 403, detail: 'an internal route' }));
      return;
    }
    const target = pick(req.url);
    if (!target) {
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '1' });
      res.end(JSON.stringify({ type: 'https://proteus.dev/problems/starting', title: 'Proteus is starting', status: 503 }));
      return;
    }
    const { hostname, port } = new URL(target);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !hopByHop.has(k)));
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    headers['x-forwarded-host'] = req.headers.host ?? '';
    headers['x-forwarded-proto'] = 'http';
    const upstream = http.request({ hostname, port, method: req.method, path: req.url, headers }, (up) => {
      const out = Object.fromEntries(Object.entries(up.headers).filter(([k]) => !hopByHop.has(k)));
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
    });
    upstream.on('error', (error) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(502, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'https://proteus.dev/problems/bad-gateway', title: 'Upstream unreachable', status: 502, detail: error.message }));
    });
    req.pipe(upstream);
  });

  server.on('upgrade', (req, socket, head) => {
    const target = pick(req.url);
    if (!target) return socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    const { hostname, port } = new URL(target);
    const upstream = net.connect(Number(port), hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    const close = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', close);
    socket.on('error', close);
    upstream.on('close', close);
    socket.on('close', close);
  });

  return {
    server,
    targets,
    /** Resolves with the bound port; rejects with EADDRINUSE when the port is taken. */
    listen(port: number, host: string): Promise<number> {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as net.AddressInfo).port);
        });
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
