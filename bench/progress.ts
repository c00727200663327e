/** When the run started, and its progress lines on stderr, stamped with the seconds since. */
export const benchStarted = Date.now();

export const progress = (msg: string): void => {
  process.stderr.write(`[bench ${((Date.now() - benchStarted) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);
};
