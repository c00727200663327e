import { IS_CI } from './env';

export type DescribeFn = (name: string, fn: () => void) => void;

/**
 * `describe`, or, when something the suite needs is missing (`missing` says what), a skip with that
 * one-line reason in the suite's name. Under CI=true everything must be present, so a missing
 * piece is a failing test instead of a skip. A suite that does not apply here at all
 * (`notApplicable` says why) is skipped everywhere, CI included: nothing is missing.
 */
export function describeIfAvailable(missing: string | undefined, notApplicable?: string): DescribeFn {
  if (notApplicable) return (name, fn) => describe.skip(`${name} [not applicable: ${notApplicable}]`, fn);
  if (!missing) return describe;
  if (IS_CI) {
    return (name) =>
      describe(name, () => {
        it('has what it needs', () => {
          throw new Error(`CI=true and ${missing}`);
        });
      });
  }
  return (name, fn) => {
    process.stderr.write(`\n[${name}: skipped] ${missing}\n`);
    describe.skip(`${name} [skipped: ${missing}]`, fn);
  };
}
