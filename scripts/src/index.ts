export { createGateway } from './gateway.ts';
export { tallyJunit } from './summarize-tests.ts';
export { createSupervisor, formatLine } from './supervisor.ts';
export { repoRoot, workspaces } from './workspaces.ts';
