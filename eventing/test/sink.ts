/**
 * A real HTTP sink for source tests: a node:http server on 127.0.0.1, port 0, that records
 * every request and answers what `respond` says (a status, possibly after a delay).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkRequest {
  /** 1 for the first request this sink received */
  n: number;
  method: string;
  path: string;
  headers: Headers;
  body: string;
  receivedAt: number;
}

export interface Sink {
  url: string;
  requests: SinkRequest[];
  /** requests in progress right now, and the most ever in progress at once */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

/** What the sink answers: a status, or a status after `delayMs`. */
export type Respond = (request: SinkRequest) => number | { status: number; delayMs: number; headers?: Record<string, string> };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function toHeaders(message: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(message.headers)) {
    if (typeof value === 'string') headers.set(name, value);
  }
  return headers;
}

export async function startSink(respond: Respond = () => 202): Promise<Sink> {
  const sink: Sink = { url: '', requests: [], inFlight: 0, maxInFlight: 0, close: async () => {} };
  const server = createServer(async (req, res) => {
    sink.inFlight++;
    sink.maxInFlight = Math.max(sink.maxInFlight, sink.inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const request: SinkRequest = {
        n: sink.requests.length + 1,
        method: req.method ?? '',
        path: req.url ?? '',
        headers: toHeaders(req),
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: performance.now(),
      };
      sink.requests.push(request);
      const answer = respond(request);
      const { status, delayMs, headers } = typeof answer === 'number' ? { status: answer, delayMs: 0, headers: {} } : answer;
      if (delayMs > 0) await sleep(delayMs);
      res.writeHead(status, headers).end();
    } finally {
      sink.inFlight--;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  sink.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return sink;
}
