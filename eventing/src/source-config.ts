/** The settings of the two source processes (bin/), exported so tests and manifests can check them. */
import { hostname } from 'node:os';
import { env } from '@proteus/common';
import { z } from 'zod';
import { sinkUrlEnv, streamRoutes, tickRoutes } from './topology.ts';

const names = streamRoutes.map((r) => r.name);

const coreAttributes = new Set(['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'dataschema', 'subject', 'data']);

/**
 * K_CE_OVERRIDES, which Knative's SinkBinding and ContainerSource inject:
 * `{"extensions": {"name": "value"}}`, extension attributes added to every event sent.
 */
export const ceOverrides = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected JSON like {"extensions":{"name":"value"}}' });
      return z.NEVER;
    }
  })
  .pipe(
    z.object(
      {
        extensions: z
          .record(
            z
              .string()
              .regex(/^[a-z0-9]{1,20}$/, { error: 'extension names are 1-20 lowercase letters and digits' })
              .refine((n) => !coreAttributes.has(n), {
                error: 'an extension cannot override a core attribute',
              }),
            z.string(),
          )
          .default({}),
      },
      { error: 'expected JSON like {"extensions":{"name":"value"}}' },
    ),
  )
  .transform((o) => o.extensions);
const tickRoute = tickRoutes[0]!;

export const streamSourceConfigSchema = z
  .object({
    PORT: env.port(0),
    HOST: env.host(),
    REDIS_URL: env.redisUrl(),
    STREAM_SOURCE_ROUTES: z
      .string()
      .default(names.join(','))
      .transform((v) => v.split(',').map((s) => s.trim()))
      .refine((list) => list.every((n) => names.includes(n)), { error: `expected a comma-separated list of ${names.join(', ')}` }),
    CONSUMER_NAME: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/)
      .default(hostname().split('.')[0] ?? 'stream-source'),
    K_SINK: env.url().optional(),
    API_URL: env.url().optional(),
    TAILOR_URL: env.url().optional(),
    ARBITRATOR_URL: env.url().optional(),
    K_CE_OVERRIDES: ceOverrides.optional(),
    /** binary (attributes in ce- headers) or structured (application/cloudevents+json) */
    STREAM_SOURCE_MODE: z.enum(['binary', 'structured'], { error: 'expected binary or structured' }).default('binary'),
    /** overrides every route's in-flight limit */
    STREAM_SOURCE_IN_FLIGHT: z.coerce.number().int({ error: 'expected a whole number' }).positive({ error: 'expected a number above 0' }).optional(),
    /** entries another consumer has held this long are taken over (XAUTOCLAIM) */
    STREAM_SOURCE_RECLAIM_IDLE_MS: env.positiveInt(30_000),
    /** on SIGTERM, deliveries under way may finish for this long; the rest stay pending */
    STREAM_SOURCE_STOP_DEADLINE_MS: env.positiveInt(8000),
    LOG_LEVEL: env.logLevel(),
  })
  .superRefine((c, ctx) => {
    if (c.K_SINK && c.STREAM_SOURCE_ROUTES.length !== 1)
      ctx.addIssue({ code: 'custom', path: ['K_SINK'], message: 'K_SINK needs exactly one route in STREAM_SOURCE_ROUTES' });
    for (const route of streamRoutes.filter((r) => c.STREAM_SOURCE_ROUTES.includes(r.name))) {
      const name = sinkUrlEnv[route.sink.part] as 'API_URL' | 'TAILOR_URL' | 'ARBITRATOR_URL';
      if (!c.K_SINK && !c[name]) ctx.addIssue({ code: 'custom', path: [name], message: `required for route ${route.name} (or set K_SINK)` });
    }
  });

export const tickSourceConfigSchema = z
  .object({
    PORT: env.port(0),
    HOST: env.host(),
    K_SINK: env.url().optional(),
    ARBITRATOR_URL: env.url().optional(),
    K_CE_OVERRIDES: ceOverrides.optional(),
    TICK_PERIOD_MS: env.positiveInt(tickRoute.periodMs),
    LOG_LEVEL: env.logLevel(),
  })
  .superRefine((c, ctx) => {
    if (!c.K_SINK && !c.ARBITRATOR_URL) ctx.addIssue({ code: 'custom', path: ['ARBITRATOR_URL'], message: 'required (or set K_SINK)' });
  });
