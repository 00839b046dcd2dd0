import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createGateway } from './gateway.ts';

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

async function upstream(name: string) {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': name });
      res.end(JSON.stringify({ name, method: req.method, url: req.url, body, forwardedHost: req.headers['x-forwarded-host'] }));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(`${name}:${req.url}:${req.headers.origin ?? ''}`);
    ws.on('message', (m) => ws.send(`echo:${m}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        wss.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startGateway(targets: Parameters<typeof createGateway>[0]) {
  const gateway = createGateway(targets);
  const port = await gateway.listen(0, '127.0.0.1');
  closers.push(() => gateway.close());
  return { gateway, url: `http://127.0.0.1:${port}` };
}

describe('dev gateway', () => {
  it('sends /updates to realtime and everything else to the api, bodies and status intact', async () => {
    const { url } = await startGateway({ api: await upstream('api'), realtime: await upstream('realtime') });
    const post = await fetch(`${url}/api/snap?x=1`, { method: 'POST', body: 'payload' });
    expect(post.status).toBe(201);
    expect(post.headers.get('x-upstream')).toBe('api');
    expect(await post.json()).toMatchObject({ name: 'api', method: 'POST', url: '/api/snap?x=1', body: 'payload', forwardedHost: new URL(url).host });
    expect(await (await fetch(`${url}/`)).json()).toMatchObject({ name: 'api', url: '/' });
    expect(await (await fetch(`${url}/updates`)).json()).toMatchObject({ name: 'realtime' });
  });

  it('pipes WebSocket upgrades on /updates to realtime, both ways, with the Origin kept', async () => {
    const { url } = await startGateway({ api: await upstream('api'), realtime: await upstream('realtime') });
    const ws = new WebSocket(`${url.replace('http', 'ws')}/updates`, { headers: { origin: 'http://localhost:8080' } });
    const messages: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (m) => {
        messages.push(String(m));
        if (messages.length === 1) ws.send('ping');
        else resolve();
      });
      ws.on('error', reject);
    });
    ws.close();
    expect(messages).toEqual(['realtime:/updates:http://localhost:8080', 'echo:ping']);
  });

  it('refuses the api’s internal routes with 403, as the cluster’s ingress does', async () => {
    const { url } = await startGateway({ api: await upstream('api'), realtime: await upstream('realtime') });
    for (const path of ['/events', '/events/x', '/metrics', '/healthz']) {
      const response = await fetch(`${url}${path}`, { method: 'POST', body: '{}' });
      expect(response.status, path).toBe(403);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    }
    expect((await fetch(`${url}/eventsource`)).status).toBe(201);
  });

  it('answers 503 problem+json while the parts are starting', async () => {
    const { url } = await startGateway({});
    const response = await fetch(`${url}/api/health`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ type: 'https://proteus.dev/problems/starting' });
  });

  it('answers 502 problem+json when the target is down', async () => {
    const { url } = await startGateway({ api: 'http://127.0.0.1:1' });
    const response = await fetch(`${url}/api/health`);
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ type: 'https://proteus.dev/problems/bad-gateway' });
  });

  it('reports a taken port', async () => {
    const { url } = await startGateway({});
    await expect(createGateway({}).listen(Number(new URL(url).port), '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
