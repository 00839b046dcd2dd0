/** Fetches the test photos once per run, before any test file starts. */
import type { TestProject } from 'vitest/node';
import { astronautPath } from './fixtures.ts';

export default function setup(project: TestProject): void {
  project.provide('astronaut', astronautPath());
}

declare module 'vitest' {
  export interface ProvidedContext {
    astronaut: string;
  }
}
