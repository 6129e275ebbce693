import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readSettings } from '../../lib/settings-store';

/**
 * The labels a new runner registers with: the pool's settings item when one
 * exists (validated, last-valid fallback, as the autoscaler reads it), else the
 * stack's default labels. The Runners stack is deployed before the AutoScaler
 * stack that owns the table, so a missing table is expected at first and
 * means "defaults", not failure.
 */
export function createPoolLabels(options: {
  doc?: DynamoDBDocumentClient;
  tableName?: string;
  pool: string;
  defaults: string[];
  logger?: { warn(message: string, ...extra: Record<string, unknown>[]): void };
}): () => Promise<string[]> {
  return async () => {
    if (!options.doc || !options.tableName) return options.defaults;
    try {
      const stored = await readSettings(options.doc, options.tableName, options.pool);
      if (stored.problems.length) options.logger?.warn('settings item has problems; using fallbacks', { problems: stored.problems.map((p) => p.message) });
      return stored.item ? stored.settings.labels : options.defaults;
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') {
        options.logger?.warn('settings table not found; using the default labels', { table: options.tableName });
        return options.defaults;
      }
      throw error;
    }
  };
}
