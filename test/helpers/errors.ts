import { PackyardError } from '../../src/util/errors.js';

/** The PackyardError `run` fails with; anything else, or no failure, fails the test. */
export async function packyardError(run: () => unknown): Promise<PackyardError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof PackyardError) return err;
    throw err;
  }
  throw new Error('expected a PackyardError, and nothing failed');
}
