/**
 * Ed25519 public key (SPKI PEM) that verifies license files. The maintainer
 * keeps the matching private key outside the repository and signs licenses
 * with scripts/issue-license.js; replacing this key invalidates every license issued before.
 */
export const LICENSE_PUBLIC_KEY_PEM = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAatswhoCJjPR5Dv1FLcriRD9ZDBLC/3GCiBcXsqPm7Vs=
-----END PUBLIC KEY-----
`;
