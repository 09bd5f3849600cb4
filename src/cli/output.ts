import cliProgress from 'cli-progress';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A byte progress bar on stderr when it is a terminal; silent otherwise (CI logs, pipes). */
export function progressBar(total: number, label: string): { tick(n: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value_mb}/{total_mb} MB`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const mb = (n: number) => (n / 1048576).toFixed(1);
  let done = 0;
  bar.start(total, 0, { value_mb: mb(0), total_mb: mb(total) });
  return {
    tick(n) {
      done += n;
      bar.update(done, { value_mb: mb(done), total_mb: mb(total) });
    },
    stop() {
      bar.stop();
    },
  };
}
