import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { clientIp } from './client-ip.ts';

const trusted = ['127.0.0.1', '::1', '10.0.0.0/8'];

async function ipOf(peer: string | undefined, forwardedFor?: string, proxies = trusted): Promise<string> {
  const app = new Hono().get('/', (c) => c.text(clientIp(c, proxies)));
  const headers: Record<string, string> = forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
  const response = await app.request('/', { headers }, peer === undefined ? undefined : { incoming: { socket: { remoteAddress: peer } } });
  return response.text();
}

describe('clientIp', () => {
  it('is the socket peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', async () => {
    expect(await ipOf('203.0.113.9')).toBe('203.0.113.9');
    expect(await ipOf('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
  });

  it('reads X-Forwarded-For behind the dev gateway (loopback, v4, v6 and v4-mapped)', async () => {
    expect(await ipOf('127.0.0.1', '198.51.100.1')).toBe('198.51.100.1');
    expect(await ipOf('::1', '2001:db8::7')).toBe('2001:db8::7');
    expect(await ipOf('::ffff:127.0.0.1', '198.51.100.2')).toBe('198.51.100.2');
  });

  it('takes the rightmost hop that is not a trusted proxy: a client-supplied left part is ignored', async () => {
    // the client sent "1.2.3.4"; an appending ingress (10.0.0.5) added the real client
    expect(await ipOf('10.0.0.5', '1.2.3.4, 198.51.100.3, 10.0.0.7')).toBe('198.51.100.3');
  });

  it('skips garbage hops and falls back to the peer with no usable header', async () => {
    expect(await ipOf('127.0.0.1', 'unknown, 198.51.100.4')).toBe('198.51.100.4');
    expect(await ipOf('127.0.0.1', 'garbage')).toBe('127.0.0.1');
    expect(await ipOf('127.0.0.1')).toBe('127.0.0.1');
  });

  it('is "unknown" without a socket (in-process requests)', async () => {
    expect(await ipOf(undefined, '198.51.100.1')).toBe('unknown');
  });
});
