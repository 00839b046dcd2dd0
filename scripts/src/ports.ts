/**
 * Ports for the dev stack's parts, picked before they start. A port the kernel hands out for
 * bind(0) lies in its ephemeral range, where any outgoing connection (a part's to Redis, say)
 * may take it in the seconds before the part that was given it binds it: the stack then fails
 * with EADDRINUSE. So a port is drawn below that range, where only a listener names its port,
 * and checked free by binding it; never one given out by this process before.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 20_000;

/** The kernel's ephemeral range, [low, high] (Linux's default when it cannot be read). */
export function ephemeralRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): [number, number] {
  try {
    const [low, high] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low as number, high as number];
  } catch {
    // not Linux
  }
  return [32_768, 60_999];
}

/** Binds `port` on 127.0.0.1 and lets it go: the port the kernel gave (`port` itself, unless 0), or undefined when taken. */
function tryBind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

const given = new Set<number>();
// read once: the dev stack asks for a port per part
const kernelRange = ephemeralRange();

/** A free port below the ephemeral range; one from bind(0) only if that range starts too low to leave room. */
export async function freePort(range = kernelRange): Promise<number> {
  const high = range[0] - 1;
  if (high - LOWEST >= 1_000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = randomInt(LOWEST, high + 1);
      if (given.has(port)) continue;
      if ((await tryBind(port)) === port) {
        given.add(port);
        return port;
      }
    }
  }
  const port = await tryBind(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  given.add(port);
  return port;
}
