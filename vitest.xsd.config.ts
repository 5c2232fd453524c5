import { defineConfig } from 'vitest/config';

/** Opt-in cross-check of our arkivmelding validator against xmllint and the official XSD (npm run test:xsd). */
export default defineConfig({
  test: {
    include: ['test/xsd/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
  },
});
