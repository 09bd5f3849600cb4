/** Where the signing keys live in storage: outside every repository's folder, so gc never sweeps them. */
export const signingLayout = {
  signingKeysPrefix: 'system/signing-keys/',
  signingKey: (fingerprint: string) => `system/signing-keys/${fingerprint}.asc`,
  /** Claimed by the one process that makes a store's first key, when several start on an empty bucket at once. */
  firstKey: 'system/first-signing-key.asc',
};
