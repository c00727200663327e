import { IS_CI } from '../../support/env';

/**
 * `describe`, or, when something the suite needs is missing, a skip with a one-line reason
 * (a failing test instead under CI=true, where everything must be present).
 */
export function describeIfAvailable(reason: string | undefined, name: string, fn: () => void): void {
  if (!reason) return describe(name, fn);
  if (IS_CI) {
    return describe(name, () => {
      it('has what it needs', () => {
        throw new Error(`CI=true and ${reason}`);
      });
    });
  }
  process.stderr.write(`\n[${name}: skipped] ${reason}\n`);
  describe.skip(`${name} [skipped: ${reason}]`, fn);
}
