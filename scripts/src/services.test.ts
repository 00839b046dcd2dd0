/** scripts/services.sh: what a user without the right to install packages is told. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './workspaces.ts';

function asUnprivileged(script: string) {
  const bash = ['bash', '-c', `proteus_root=${repoRoot}; source ${join(repoRoot, 'scripts/services.sh')}; ${script}`];
  // as root, drop to `nobody`, the way a developer without sudo runs it
  const command = process.getuid?.() === 0 ? ['runuser', '-u', 'nobody', '--', ...bash] : bash;
  return spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
}

describe('services.sh without permission to install', () => {
  it('fails and prints the exact command to run as root', () => {
    const result = asUnprivileged('proteus_apt_install proteus-no-such-package');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('proteus: proteus-no-such-package missing and this user cannot install packages. Run as root:');
    expect(result.stderr).toContain('apt-get update && apt-get install -y proteus-no-such-package');
  });
});
