export * from './config.ts';
export * from './health.ts';
export * from './log.ts';
export * from './problem.ts';
export * from './redis.ts';
export * from './server.ts';
export * from './tokens.ts';
