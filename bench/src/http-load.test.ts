import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LeanConnection, requestBytes } from './http-load.ts';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A node:http server; answers with what `handle` does, counting the connections it accepted. */
async function serve(handle: Parameters<typeof createServer>[1]): Promise<{ origin: string; connections: () => number }> {
  let accepted = 0;
  server = createServer(handle);
  server.on('connection', () => accepted++);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => accepted };
}

describe('the lean load client', () => {
  it('sends the prebuilt request and reads each answer whole, on one kept-alive socket', async () => {
    const seen: { method?: string; url?: string; auth?: string; body: string }[] = [];
    const { origin, connections } = await serve((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
        const answer = JSON.stringify({ echo: body, pad: 'x'.repeat(100_000) }); // several TCP segments
        res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) }).end(answer);
      });
    });
    const request = requestBytes(origin, 'POST', '/api/snap', { authorization: 'Bearer t', 'content-type': 'application/json' }, '{"a":"é"}');
    const c = await LeanConnection.open(origin);
    for (let i = 0; i < 3; i++) {
      const answer = await c.send(request);
      expect(answer.status).toBe(202);
      expect(JSON.parse(answer.body.toString()).echo).toBe('{"a":"é"}');
    }
    c.close();
    expect(seen).toEqual(Array(3).fill({ method: 'POST', url: '/api/snap', auth: 'Bearer t', body: '{"a":"é"}' }));
    expect(connections()).toBe(1);
  });

  it('fails a request whose answer has no Content-Length (chunked), and one on a connection the server closed', async () => {
    const { origin } = await serve((req, res) => {
      if (req.url === '/chunked') {
        res.write('part');
        res.end();
      } else res.writeHead(200, { connection: 'close', 'content-length': 2 }).end('ok');
    });
    const chunked = await LeanConnection.open(origin);
    await expect(chunked.send(requestBytes(origin, 'GET', '/chunked', {}, ''))).rejects.toThrow(/Content-Length/);
    expect(chunked.closed).toBe(true);

    const closing = await LeanConnection.open(origin);
    expect((await closing.send(requestBytes(origin, 'GET', '/', {}, ''))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closing.closed).toBe(true);
    await expect(closing.send(requestBytes(origin, 'GET', '/', {}, ''))).rejects.toThrow(/closed/);
  });
});
