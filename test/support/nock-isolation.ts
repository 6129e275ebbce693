/**
 * nock 15 intercepts through @mswjs/interceptors, which patches Node's shared
 * `net`/`http` modules. Jest gives every test file a fresh module registry but
 * the same core modules, so a file that leaves nock active stacks its patch
 * under the next file's, and that file's mocked responses lose their headers
 * (JSON bodies then arrive as text). Restoring nock after each file that
 * loaded it (the interceptor registry exists only then) keeps files isolated.
 */
afterAll(() => {
  if ((globalThis as { __MSW_INTERCEPTORS_REGISTRY?: unknown }).__MSW_INTERCEPTORS_REGISTRY) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require('nock') as { default?: { restore(): void }; restore?: () => void };
    (loaded.default ?? (loaded as { restore(): void })).restore();
  }
});
