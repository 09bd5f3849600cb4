/** Package lists are split by name prefix (as the pool is): `lib` names by their first four letters. */
export function shardOf(name: string): string {
  return name.startsWith('lib') && name.length > 3 ? name.slice(0, 4) : name.slice(0, 1);
}
