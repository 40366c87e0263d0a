/**
 * `loader config show` into a pipe: the MEANING column keeps every
 * explanation whole, because nothing is cut when stdout is not a terminal.
 */
import { CONFIG_KEYS } from '../../src/services/settings/config-keys';
import { createLoaderDirs, loaderIsBuilt, runLoader } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('config show', () => {
  test('piped output keeps meanings whole', async () => {
    const result = await runLoader(['config', 'show'], { dirs: createLoaderDirs('config-show') });
    const longest = Object.values(CONFIG_KEYS)
      .map((entry) => entry.description)
      .reduce((best, description) => (description.length > best.length ? description : best));

    expect(result.code).toBe(0);
    expect(longest.length).toBeGreaterThan(80);
    expect(result.stdout).toContain(longest);
    expect(result.stdout).not.toContain('…');
  });
});
