import { SSMClient } from '@aws-sdk/client-ssm';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';

/**
 * The webhook secret lives in an SSM SecureString; the function's environment
 * only names the parameter. It is read once per container and re-read after
 * `maxAgeMs`, so a rotation reaches every container within that time. During a
 * rotation a second parameter holds the previous secret and both are valid.
 */
export interface SecretParameterReader {
  /** The decrypted value, or undefined when the parameter does not exist. */
  read(name: string): Promise<string | undefined>;
}

export interface WebhookSecretSourceOptions {
  reader: SecretParameterReader;
  currentName: string;
  previousName?: string;
  maxAgeMs?: number;
  now?: () => number;
}

export class WebhookSecretMissingError extends Error {
  constructor(parameterName: string) {
    super(`webhook secret parameter ${parameterName} does not exist or is empty`);
    this.name = 'WebhookSecretMissingError';
  }
}

export const SECRET_CACHE_MS = 5 * 60 * 1000;

/** Current secret first, then the previous one if its parameter exists (a missing previous parameter just ends the rotation). */
export function createWebhookSecretSource(options: WebhookSecretSourceOptions): () => Promise<string[]> {
  const maxAgeMs = options.maxAgeMs ?? SECRET_CACHE_MS;
  const now = options.now ?? Date.now;
  let cached: { secrets: string[]; readAt: number } | undefined;
  let inFlight: Promise<string[]> | undefined;

  const load = async (): Promise<string[]> => {
    const [current, previous] = await Promise.all([
      options.reader.read(options.currentName),
      options.previousName ? options.reader.read(options.previousName) : Promise.resolve(undefined),
    ]);
    if (!current) throw new WebhookSecretMissingError(options.currentName);
    const secrets = previous && previous !== current ? [current, previous] : [current];
    cached = { secrets, readAt: now() };
    return secrets;
  };

  return async () => {
    if (cached && now() - cached.readAt < maxAgeMs) return cached.secrets;
    inFlight ??= load().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

/** Reads SecureStrings through Powertools (decrypting, with its own cache as a second line). */
export function createSsmSecretReader(client: SSMClient = new SSMClient({ maxAttempts: 3 }), maxAgeSeconds = SECRET_CACHE_MS / 1000): SecretParameterReader {
  const provider = new SSMProvider({ awsSdkV3Client: client });
  return {
    async read(name) {
      try {
        return await provider.get(name, { decrypt: true, maxAge: maxAgeSeconds });
      } catch (error) {
        const cause = (error as { cause?: { name?: string } }).cause;
        if (cause?.name === 'ParameterNotFound') return undefined;
        throw error;
      }
    },
  };
}
