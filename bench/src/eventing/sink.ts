/**
 * The benchmark's sink, a process of its own (the other core): answers 204 to every POST,
 * counts them and keeps each event's enqueue-to-sink latency (now - ce-time).
 * GET /stats answers { count, p50, p99, max } in ms; POST /reset clears them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let count = 0;
let latencies: number[] = [];
const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/reset') {
    count = 0;
    latencies = [];
    return res.writeHead(204).end();
  }
  if (req.method === 'GET' && req.url === '/stats') {
    const sorted = [...latencies].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ count, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 }));
  }
  const time = req.headers['ce-time'];
  req.resume();
  req.on('end', () => {
    count++;
    if (typeof time === 'string') latencies.push(Date.now() - Date.parse(time));
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
