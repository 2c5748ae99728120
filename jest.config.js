/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // Installs the pinned moto server / cfn-lint into .venv once, before any worker starts.
  globalSetup: '<rootDir>/test/global-setup.ts',
  testTimeout: 120_000,
  maxWorkers: 2,
};
