/**
 * Lookups in records keyed by names users choose (repositories, distributions, components,
 * architectures, claims). A plain `record[name]` finds what Object.prototype has under that name:
 * `constructor`, `toString` and the like.
 */
export function own<V>(record: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** The record's own value under `key`, set to `make()` first when it has none. */
export function ownOrSet<V>(record: Record<string, V>, key: string, make: () => V): V {
  // Defined, not assigned: assigning `__proto__` would set the prototype.
  if (!Object.hasOwn(record, key)) Object.defineProperty(record, key, { value: make(), enumerable: true, writable: true, configurable: true });
  return record[key]!;
}

/** Deletes every entry whose key starts with `prefix`. */
export function dropUnder(record: Record<string, unknown>, prefix: string): void {
  for (const key of Object.keys(record)) if (key.startsWith(prefix)) delete record[key];
}
