import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup-backends.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: more workers only thrash.
    pool: 'forks',
    maxWorkers: 2,
  },
});
