import * as fs from 'fs';
import * as path from 'path';

import { listDicomdirReferencedFiles } from '../../src/dicom/dicomdir';
import { Tags } from '../../src/dicom/tags';
import { buildFileMetaInformation, encodeElements, ElementSpec } from '../../src/dicom/writer';
import { SopClass, TransferSyntax } from '../../src/dicom/uid';
import { describeWithSamples, makeTempDir, removeTempDir, testFile } from './fixtures';

function record(type: string, fileId?: string[]): ElementSpec[] {
  const elements: ElementSpec[] = [{ tag: Tags.DirectoryRecordType, vr: 'CS', value: type }];
  if (fileId) elements.push({ tag: Tags.ReferencedFileID, vr: 'CS', value: fileId });
  return elements;
}

function writeDicomdir(file: string, records: ElementSpec[][]): void {
  const meta = buildFileMetaInformation({
    mediaStorageSopClassUid: SopClass.MediaStorageDirectoryStorage,
    mediaStorageSopInstanceUid: '1.2.3.4',
    transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
    implementationClassUid: '1.2.3.99',
  });
  const body = encodeElements([{ tag: Tags.DirectoryRecordSequence, vr: 'SQ', value: records }], { littleEndian: true, explicitVr: true });
  fs.writeFileSync(file, Buffer.concat([meta, body]));
}

describeWithSamples('listDicomdirReferencedFiles on samples', () => {
  test('pydicom DICOMDIR', async () => {
    const dicomdir = testFile('dicomdirtests/DICOMDIR');
    const { files, warnings } = await listDicomdirReferencedFiles(dicomdir);
    expect(files).toHaveLength(31);
    expect(warnings).toEqual([]);
    expect(files[0]).toBe(path.join(path.dirname(dicomdir), '77654033', 'CR1', '6154'));
    for (const file of files) expect(fs.existsSync(file)).toBe(true);
  });
});

describe('listDicomdirReferencedFiles', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
    fs.mkdirSync(path.join(dir, 'pt000000', 'st000000'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'pt000000', 'st000000', 'im000001'), 'x');
    fs.writeFileSync(path.join(dir, 'IM000002'), 'x');
    fs.writeFileSync(path.join(dir, 'IM000003.;1'), 'x');
    fs.writeFileSync(path.join(path.dirname(dir), `outside-${path.basename(dir)}`), 'x');
  });
  afterAll(() => {
    fs.rmSync(path.join(path.dirname(dir), `outside-${path.basename(dir)}`), { force: true });
    removeTempDir(dir);
  });

  test('resolves case-insensitively', async () => {
    const dicomdir = path.join(dir, 'DICOMDIR');
    writeDicomdir(dicomdir, [record('PATIENT'), record('IMAGE', ['PT000000', 'ST000000', 'IM000001']), record('IMAGE', ['IM000002'])]);
    const { files, warnings } = await listDicomdirReferencedFiles(dicomdir);
    expect(files).toEqual([path.join(dir, 'pt000000', 'st000000', 'im000001'), path.join(dir, 'IM000002')]);
    expect(warnings).toEqual([]);
  });

  test('accepts ISO 9660 version suffix', async () => {
    const dicomdir = path.join(dir, 'DICOMDIR_ISO');
    writeDicomdir(dicomdir, [record('IMAGE', ['IM000003'])]);
    const { files } = await listDicomdirReferencedFiles(dicomdir);
    expect(files).toEqual([path.join(dir, 'IM000003.;1')]);
  });

  test('rejects traversal and absolute components', async () => {
    const dicomdir = path.join(dir, 'DICOMDIR_EVIL');
    writeDicomdir(dicomdir, [
      record('IMAGE', ['..', `outside-${path.basename(dir)}`]),
      record('IMAGE', ['/etc', 'passwd']),
      record('IMAGE', ['A/B']),
      record('IMAGE', ['IM000002']),
    ]);
    const { files, warnings } = await listDicomdirReferencedFiles(dicomdir);
    expect(files).toEqual([path.join(dir, 'IM000002')]);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/'\.\.' leaves the DICOMDIR folder/);
    expect(warnings[1]).toMatch(/absolute path or contains a path separator/);
  });

  test('warns about missing file', async () => {
    const dicomdir = path.join(dir, 'DICOMDIR_MISSING');
    writeDicomdir(dicomdir, [record('IMAGE', ['NOFILE'])]);
    const { files, missing, warnings } = await listDicomdirReferencedFiles(dicomdir);
    expect(files).toEqual([]);
    expect(missing).toEqual([{ path: path.join(dir, 'NOFILE'), referencedFileId: 'NOFILE', record: 'Directory record 1 (IMAGE)' }]);
    expect(warnings[0]).toMatch(/"NOFILE" was not found/);
  });
});
