import { verify } from '@octokit/webhooks-methods';

/**
 * Checks `X-Hub-Signature-256` against every secret currently valid (the
 * current one first, then the previous one while a rotation is under way).
 * `@octokit/webhooks-methods` compares in constant time; a signature that is
 * malformed, has another algorithm prefix or was made with another secret is
 * simply not valid.
 */
const SIGNATURE_FORMAT = /^sha256=[0-9a-f]{64}$/;

export async function signatureIsValid(secrets: readonly string[], body: string, signature: string | undefined): Promise<boolean> {
  if (!signature || !SIGNATURE_FORMAT.test(signature)) return false;
  // verify() refuses an empty payload; GitHub never signs one, so neither do we accept one.
  if (body.length === 0) return false;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    if (await verify(secret, body, signature)) return true;
  }
  return false;
}
