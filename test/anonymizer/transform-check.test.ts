/**
 * The anonymizing transform of send, migrate and sync checks each archived
 * file against its index row before it anonymizes it, so a file cut or
 * replaced after indexing is never sent as an anonymized instance.
 */
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive, type StoredInstance } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { AnonymizingTransform } from '../../src/services/transfers';
import { corpusFile, makeTempDir } from '../support/peers';

describe('anonymizing transform', () => {
  let previousSink: (line: string) => void;
  let archive: LocalArchive;
  let transform: AnonymizingTransform;
  let ct: StoredInstance;
  let work: string;

  beforeAll(async () => {
    previousSink = setLogSink(() => undefined);
    work = makeTempDir('transform-check');
    archive = LocalArchive.open(path.join(work, 'archive'));
    const file = corpusFile('ct');
    await archive.importFile(file.absolutePath, { copy: true });
    ct = archive.listInstances({ sopInstanceUids: [file.sopInstanceUid!] })[0];
    transform = new AnonymizingTransform({ jobSecret: Buffer.alloc(32, 7), tempDir: path.join(work, 'anonymized') });
  });

  afterAll(() => {
    transform.close();
    archive.close();
    setLogSink(previousSink);
  });

  test('intact file anonymized', async () => {
    const result = await transform.transform(ct);

    expect(result.status).toBe('transformed');
  });

  test('cut file rejected', async () => {
    const cut = { ...ct, path: path.join(work, 'cut.dcm') };
    fs.writeFileSync(cut.path, fs.readFileSync(ct.path).subarray(0, 1000));

    await expect(transform.transform(cut)).rejects.toThrow(`has 1000 bytes but the index records ${ct.size}`);
  });

  test('missing file rejected with hint', async () => {
    const missing = { ...ct, path: path.join(work, 'missing.dcm') };

    await expect(transform.transform(missing)).rejects.toThrow(/is missing; .*loader reindex/);
  });
});
