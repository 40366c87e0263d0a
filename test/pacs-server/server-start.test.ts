/**
 * What PacsServer.start() prepares before it accepts the first association.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { captureLogLines } from '../support/log-capture';

captureLogLines();

test.each([
  ['loads the data dictionary when asked', true],
  ['leaves the data dictionary by default', false],
])('start %s', async (_case, loadDictionaryAtStart) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-test-server-start-'));
  try {
    // A module registry of its own, so that no earlier test has loaded the dictionary.
    await jest.isolateModulesAsync(async () => {
      const tags = await import('../../src/dicom/tags');
      const { LocalArchive } = await import('../../src/services/archive');
      const { PacsServer } = await import('../../src/services/pacs-server/pacs-server');
      const { defaultSettings } = await import('../../src/services/settings/settings-types');
      const archive = LocalArchive.open(path.join(root, 'archive'));
      const settings = { ...defaultSettings().pacs, host: '127.0.0.1', port: 0 };
      const server = new PacsServer({ settings, archive, listNodes: () => [], ...(loadDictionaryAtStart ? { loadDictionaryAtStart } : {}) });

      expect(tags.isDataDictionaryLoaded()).toBe(false);
      await server.start();
      try {
        expect(tags.isDataDictionaryLoaded()).toBe(loadDictionaryAtStart);
      } finally {
        await server.stop();
        archive.close();
      }
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
