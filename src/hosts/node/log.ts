/** One JSON object a line on stderr: structured logs a collector can read. */
export function log(entry: Record<string, unknown>): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), ...entry }) + '\n');
}
