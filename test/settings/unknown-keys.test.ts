/**
 * Keys of settings.json that the loader does not know: each gets one warning
 * at load, with the closest known key, and a change of the settings keeps
 * the unknown keys of the top level and the sections.
 */
import fs from 'node:fs';
import path from 'node:path';

import { createLoaderDirs, loaderIsBuilt, runLoader, type LoaderDirs } from '../support/loader';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

function writeSettings(dirs: LoaderDirs, content: Record<string, unknown>): string {
  const file = path.join(dirs.configDir, 'settings.json');
  fs.writeFileSync(file, JSON.stringify(content, null, 2));
  return file;
}

function unknownKeyWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.includes('has the unknown key'));
}

describeBuilt('unknown settings keys', () => {
  const content = {
    schemaVersion: 1,
    bogusTop: 1,
    pacs: { maxAssociation: 4, bogusKey: true, aeTitle: 'KEYTEST' },
    locations: { pacs: [{ name: 'pacs1', aeTitle: 'PACS1', host: '127.0.0.1', port: 104, hostname: 'pacs1.local' }], ssh: [] },
  };

  test('each key warned once', async () => {
    const dirs = createLoaderDirs('unknown-keys');
    const file = writeSettings(dirs, content);

    const result = await runLoader(['config', 'show'], { dirs });

    expect(result.code).toBe(0);
    const warnings = unknownKeyWarnings(result.stderr);
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toContain(`settings file ${file} has the unknown key bogusTop: it is ignored`);
    expect(warnings[1]).toContain('unknown key pacs.maxAssociation (did you mean pacs.maxAssociations?)');
    expect(warnings[2]).toContain('unknown key pacs.bogusKey: it is ignored');
    expect(warnings[3]).toContain('unknown key locations.pacs[pacs1].hostname: it is ignored, and the next change of the settings removes it');
  });

  test('known keys not warned', async () => {
    const dirs = createLoaderDirs('unknown-keys');
    expect((await runLoader(['config', 'set', 'pacs.port', '11112'], { dirs })).code).toBe(0);

    const result = await runLoader(['config', 'show'], { dirs });

    expect(unknownKeyWarnings(result.stderr)).toEqual([]);
  });

  test('config set keeps unknown keys', async () => {
    const dirs = createLoaderDirs('unknown-keys');
    const file = writeSettings(dirs, content);

    expect((await runLoader(['config', 'set', 'pacs.port', '11112'], { dirs })).code).toBe(0);

    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { bogusTop?: unknown; pacs: Record<string, unknown> };
    expect(saved.bogusTop).toBe(1);
    expect(saved.pacs.maxAssociation).toBe(4);
    expect(saved.pacs.bogusKey).toBe(true);
    expect(saved.pacs.port).toBe(11112);
  });
});
