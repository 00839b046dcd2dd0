/**
 * The client's IP address, for per-IP login limits. The socket's peer address is the client
 * unless the peer is a trusted proxy (the dev gateway and the ingress, TRUSTED_PROXIES); only
 * then is X-Forwarded-For read, from the right: the rightmost address that is not itself a
 * trusted proxy. The dev gateway replaces the header with one address, so there this is the
 * first (and only) hop; an ingress that appends keeps what the client sent on the left, and
 * reading the leftmost hop would let any client choose its own IP and dodge the limit.
 */
import { BlockList, isIP } from 'node:net';
import type { Context } from 'hono';

export function trustedProxyList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

const normalize = (address: string) => address.trim().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

function trusted(list: BlockList, address: string): boolean {
  const kind = isIP(address);
  return kind !== 0 && list.check(address, kind === 6 ? 'ipv6' : 'ipv4');
}

/** The socket peer's address: @hono/node-server puts the Node request in `c.env.incoming`. */
export function peerAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const address = env?.incoming?.socket?.remoteAddress;
  return address ? normalize(address) : undefined;
}

// one BlockList per settings list, not per request
const lists = new WeakMap<string[], BlockList>();

export function clientIp(c: Context, trustedProxies: string[]): string {
  let proxies = lists.get(trustedProxies);
  if (!proxies) {
    proxies = trustedProxyList(trustedProxies);
    lists.set(trustedProxies, proxies);
  }
  const peer = peerAddress(c) ?? 'unknown';
  if (!trusted(proxies, peer)) return peer;
  const hops = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map(normalize)
    .filter((hop) => isIP(hop) !== 0);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!trusted(proxies, hop)) return hop;
  }
  return hops[0] ?? peer;
}
