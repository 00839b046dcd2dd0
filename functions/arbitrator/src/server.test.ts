import { join } from 'node:path';
import { isolatedRedisUrl, serverProcessSuite } from '@proteus/testkit';

serverProcessSuite({
  part: 'arbitrator',
  packageDir: join(import.meta.dirname, '..'),
  goodEnv: async () => ({ REDIS_URL: await isolatedRedisUrl(), HOST: '127.0.0.1', PORT: '0' }),
  badEnvs: [
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['PORT', { PORT: 'abc' }],
    ['POLICY_ECONOMY_MAX_DEPTH', { POLICY_VIP_MAX_DEPTH: '60', POLICY_ECONOMY_MAX_DEPTH: '50' }],
  ],
  healthPath: '/health',
});
