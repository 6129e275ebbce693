// Preloaded into `npm start` by test/local/main.test.ts: right after the banner is written,
// block the process for STALL_AFTER_BANNER_MS. This is what a loaded machine does when it
// deschedules the process between that write and the next statement; here it is made certain,
// so that a signal arriving "just after the banner" finds whatever the code had set up by then.
const stallMs = Number(process.env.STALL_AFTER_BANNER_MS ?? 0);
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const written = write(chunk, ...rest);
  if (stallMs > 0 && String(chunk).includes('Ctrl-C stops everything')) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stallMs);
  }
  return written;
};
