/**
 * For a streaming parser: once a chunk failed half way the parser has lost its place, so every
 * later call fails with the same error rather than misread what follows.
 */
export class FailureLatch {
  private failed = false;
  private failure: unknown;

  /** Throws the first failure, if there was one. */
  check(): void {
    if (this.failed) throw this.failure;
  }

  run<T>(work: () => T): T {
    this.check();
    try {
      return work();
    } catch (err) {
      this.failed = true;
      this.failure = err;
      throw err;
    }
  }
}
