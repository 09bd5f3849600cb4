/** Where the signing keys live in storage: outside every repository's folder, so gc never sweeps them. */
export const signingLayout = {
  signingKeysPrefix: 'system/signing-keys/',
  signingKey: (fingerprint: string) => `system/signing-keys/${fingerprint}.asc`,
};
