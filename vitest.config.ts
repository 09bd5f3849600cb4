import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['test/build.global.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Two cores: end-to-end suites start servers and chroots, so run files one after another.
    fileParallelism: false,
  },
});
