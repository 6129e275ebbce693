import { readSettings, saveLastValidSettings, shouldSaveLastValid } from '../../lib/settings-store';
import type { StoreDeps } from './deps';
import { classifyErrors } from './errors';
import type { LoadedSettings } from './state';

/**
 * Reads the pool settings. A bad value never stops scaling: each problem is
 * logged and counted, the field falls back to the last valid value (or the
 * default), and settings that validate cleanly become the new last-valid copy
 * (written only when they differ from it: this step runs on every execution).
 */
export async function loadSettings(deps: StoreDeps): Promise<LoadedSettings> {
  const { doc, tableName, pool, logger, metrics, clock } = deps;
  return classifyErrors('LoadSettings', async () => {
    const stored = await readSettings(doc, tableName, pool);
    for (const problem of stored.problems) {
      logger.warn('invalid setting ignored', { pool, key: problem.key, problem: problem.message });
    }
    metrics?.addMetric('SettingsProblems', 'Count', stored.problems.length);
    if (shouldSaveLastValid(stored)) {
      await saveLastValidSettings(doc, tableName, pool, stored.settings, clock.now());
    }
    return { values: stored.settings, problems: stored.problems.map((p) => p.message), version: stored.version };
  });
}
