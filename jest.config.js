/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // nock 15's interceptors ship .mjs
    '^.+\\.mjs$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // aws-local-stepfunctions ships ESM-only pieces that need transforming
  transformIgnorePatterns: ['/node_modules/(?!(aws-local-stepfunctions|p-limit|yocto-queue|wildcard-match|@octokit/webhooks-methods|@octokit|nock|@mswjs|@open-draft|outvariant|is-node-process|universal-user-agent|before-after-hook|universal-github-app-jwt|toad-cache|json-with-bigint|content-type|rettime)/)'],
  // ESM-only packages without a `require` export condition: point jest at their ESM build, which swc transforms
  moduleNameMapper: { '^@octokit/webhooks-methods$': '<rootDir>/node_modules/@octokit/webhooks-methods/dist-node/index.js' },
  setupFiles: ['<rootDir>/lib/polyfills.ts'],
  // nock patches shared core modules: restore it after every file that used it
  setupFilesAfterEnv: ['<rootDir>/test/support/nock-isolation.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
};
