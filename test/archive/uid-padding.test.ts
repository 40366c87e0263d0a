/**
 * A UID padded with a space (invalid under PS3.5 section 9.1, but sent by legacy
 * senders) and the same UID padded with a NUL name one instance: receiving the
 * other padding is a duplicate, not a conflict.
 */
import fs from 'node:fs';
import path from 'node:path';

import { LocalArchive } from '../../src/services/archive';
import { CT_SMALL, Tag, datasetPartOf, freshCopy, makeTempDir, removeTempDir, requestFor } from './fixtures';

/** An odd-length UID, so the file pads its value with one byte. */
const ODD_UID = '1.2.826.0.1.3680043.10.1234.777';

describe('UID padding in received copies', () => {
  let workDir: string;
  let archive: LocalArchive;

  beforeEach(() => {
    workDir = makeTempDir();
    archive = LocalArchive.open(path.join(workDir, 'archive'));
  });

  afterEach(() => {
    archive.close();
    removeTempDir(workDir);
  });

  test('space-padded UID is a duplicate', async () => {
    const nulPadded = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'nul.dcm'), { [Tag.SOPInstanceUID]: ODD_UID }));
    const padding = nulPadded.bytes.indexOf(Buffer.from(`${ODD_UID}\0`, 'latin1'));
    expect(padding).toBeGreaterThan(0);
    const spacePadded = { ...nulPadded, bytes: Buffer.from(nulPadded.bytes) };
    spacePadded.bytes[padding + ODD_UID.length] = 0x20;

    const first = await archive.receive(requestFor(nulPadded));
    const stored = fs.readFileSync(first.path);
    const second = await archive.receive(requestFor(spacePadded));

    expect(first.outcome).toBe('stored');
    expect(second.outcome).toBe('duplicate');
    expect(second.path).toBe(first.path);
    expect(fs.readFileSync(first.path).equals(stored)).toBe(true);
    expect(fs.readdirSync(path.join(workDir, 'archive', '.conflicts'))).toEqual([]);
  });

  test('different content still conflicts', async () => {
    const original = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'a.dcm'), { [Tag.SOPInstanceUID]: ODD_UID }));
    const changed = datasetPartOf(freshCopy(CT_SMALL, path.join(workDir, 'b.dcm'), { [Tag.SOPInstanceUID]: ODD_UID }));

    await archive.receive(requestFor(original));
    const second = await archive.receive(requestFor(changed));

    // freshCopy gave each copy its own Study and Series Instance UIDs.
    expect(second.outcome).toBe('conflict');
  });
});
