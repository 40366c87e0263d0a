/** Jest runs the TypeScript sources directly through ts-jest. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': 'ts-jest',
  },
  // Builds test/.corpus/ when it is missing.
  globalSetup: '<rootDir>/test/globalSetup.ts',
  testTimeout: 120000,
  // Interop tests start real peers on their own ports; two workers fit the 2-core CI machine.
  maxWorkers: 2,
};
