/** What other packages (the benchmark) use to drive the web mirror: the dev stack, Chromium, a fake camera clip. */

export { garmentQuad, MESH_SEGMENTS, meshPositions } from '../src/preview/mesh.ts';
export { CHROMIUM, CHROMIUM_FLAGS, launchChromium } from './browser.ts';
export { type DevStack, repoRoot, startDevStack } from './dev-stack.ts';
export { y4mFromImage } from './fake-camera.ts';
