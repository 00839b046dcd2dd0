/** The HTTP floor: a bare Hono app answering 200 JSON; prints {"port":N} as its first line. */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono().post('/api/snap', (c) => c.json({ id: 'job-0', status: 'queued' }, 200));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, ({ port }) => {
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
