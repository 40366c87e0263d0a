/**
 * Patient name searches on a node find names spelled with е and with ё, as
 * `loader studies` does in the archive: findStudies against DCMTK dcmqrscp
 * (UTF-8 and ISO_IR 144 data) and Orthanc, and `loader find` and `loader get`
 * against dcmqrscp.
 */
import fs from 'node:fs';
import path from 'node:path';

import { encodeText } from '../../src/dicom/charset';
import { setLogSink } from '../../src/services/logger';
import { findStudies } from '../../src/services/query-retrieve';
import type { RemoteNode } from '../../src/services/query-retrieve';
import { createLoaderDirs, freePort, loaderIsBuilt, LOOPBACK, makeTempDir, runDcmtk, runLoader, startDcmqrscp, startOrthanc, storeFiles } from '../support/peers';
import type { DcmqrscpHandle, LoaderDirs, OrthancHandle } from '../support/peers';
import { writeStudyCopies } from '../support/study-copies';
import { collect, LOADER_AE, localIdentity, nodeFor } from './helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Names with ё, the same names with е, and a name that only the widened key *С*м*нов* matches. */
const NAMES = {
  yo: 'Семёнов^Пётр',
  ye: 'Семенов^Петр',
  other: 'Саманов^Павел',
} as const;
type Label = keyof typeof NAMES;

/** Searches and the labels each must find, in label order. */
const SEARCHES: [string, Label[]][] = [
  ['Семенов', ['yo', 'ye']],
  ['Семёнов', ['yo', 'ye']],
  ['Петр', ['yo', 'ye']],
  ['Пётр', ['yo', 'ye']],
  ['Семенов Петр', ['yo', 'ye']],
  ['Семенов^П*', ['yo', 'ye']],
  ['Саманов', ['other']],
];

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

/** Writes one study per name in UTF-8 (ISO_IR 192) and returns the paths and Study Instance UIDs. */
async function writeUtf8Studies(folder: string) {
  const attributes = {} as Record<Label, Record<string, string>>;
  for (const [label, name] of Object.entries(NAMES) as [Label, string][]) attributes[label] = { '(0010,0010)': name, '(0010,0020)': `YO-${label}` };
  return writeStudyCopies(folder, attributes);
}

/** Rewrites the copies of writeUtf8Studies as ISO_IR 144 (ISO 8859-5), with the name bytes inserted from a file by dcmodify. */
async function convertToIsoIr144(files: string[]): Promise<void> {
  const labels = Object.keys(NAMES) as Label[];
  for (const [index, file] of files.entries()) {
    const nameFile = `${file}.name`;
    // dcmodify inserts only values of even length, so an odd name gets the trailing space that pads PN values.
    const name = encodeText(NAMES[labels[index]], ['ISO_IR 144'], 'PN');
    fs.writeFileSync(nameFile, name.length % 2 === 0 ? name : Buffer.concat([name, Buffer.from(' ')]));
    const modified = await runDcmtk('dcmodify', ['-nb', '-i', '(0008,0005)=ISO_IR 144', '-if', `(0010,0010)=${nameFile}`, file]);
    if (modified.code !== 0) throw new Error(`dcmodify failed on ${file}: ${modified.stderr}`);
  }
}

/** Returns the labels of the studies that findStudies lists on `node` for the name search. */
async function findLabels(node: RemoteNode, uidOf: Record<Label, string>, name: string): Promise<Label[]> {
  const matches = await collect(findStudies(node, localIdentity(), { patientName: name }));
  const uids = new Set(matches.map((match) => match.studyInstanceUid));
  return (Object.keys(NAMES) as Label[]).filter((label) => uids.has(uidOf[label]));
}

describe.each(['ISO_IR 192', 'ISO_IR 144'])('е and ё on dcmqrscp, %s', (characterSet) => {
  let dcmqrscp: DcmqrscpHandle;
  let uidOf: Record<Label, string>;

  beforeAll(async () => {
    const copies = await writeUtf8Studies(path.join(makeTempDir('name-yo-dcmqrscp'), 'files'));
    if (characterSet === 'ISO_IR 144') await convertToIsoIr144(copies.files);
    uidOf = copies.uidOf;
    dcmqrscp = await startDcmqrscp({ aeTitle: 'YODCMQRSCP' });
    expect((await storeFiles(dcmqrscp, copies.files)).code).toBe(0);
  });

  afterAll(async () => {
    await dcmqrscp?.stop();
  });

  // dcmqrscp compares the bytes of the key with the stored bytes, so the files and the query share one character set.
  test.each(SEARCHES)('name %s', async (name, expected) => {
    expect(await findLabels(nodeFor(dcmqrscp, { characterSet: [characterSet] }), uidOf, name)).toEqual(expected);
  });
});

describe('е and ё on Orthanc', () => {
  let orthanc: OrthancHandle;
  let uidOf: Record<Label, string>;

  beforeAll(async () => {
    const copies = await writeUtf8Studies(path.join(makeTempDir('name-yo-orthanc'), 'files'));
    uidOf = copies.uidOf;
    orthanc = await startOrthanc({ aeTitle: 'YOORTHANC', modalities: { loader: { aet: LOADER_AE, host: LOOPBACK, port: 1 } } });
    for (const file of copies.files) await orthanc.uploadFile(file);
  });

  afterAll(async () => {
    await orthanc?.stop();
  });

  test.each(SEARCHES)('name %s', async (name, expected) => {
    expect(await findLabels(nodeFor(orthanc), uidOf, name)).toEqual(expected);
  });

  test.each(SEARCHES)('ISO_IR 144 query, name %s', async (name, expected) => {
    expect(await findLabels(nodeFor(orthanc, { characterSet: ['ISO_IR 144'] }), uidOf, name)).toEqual(expected);
  });
});

describeBuilt('е and ё in loader find and get', () => {
  const dirs: LoaderDirs = createLoaderDirs('name-yo-cli');
  let dcmqrscp: DcmqrscpHandle;
  let uidOf: Record<Label, string>;

  beforeAll(async () => {
    const copies = await writeUtf8Studies(path.join(dirs.root, 'files'));
    uidOf = copies.uidOf;
    dcmqrscp = await startDcmqrscp({ aeTitle: 'YOCLI' });
    expect((await storeFiles(dcmqrscp, copies.files)).code).toBe(0);
    const add = await runLoader(['nodes', 'add', 'qr', '--aet', dcmqrscp.aeTitle, '--host', dcmqrscp.host, '--port', String(dcmqrscp.port)], { dirs });
    expect(add.code).toBe(0);
    expect((await runLoader(['config', 'set', 'pacs.moveScuPort', String(await freePort())], { dirs })).code).toBe(0);
  });

  afterAll(async () => {
    await dcmqrscp?.stop();
  });

  test.each(['Петр', 'Семенов'])('find %s lists both spellings', async (name) => {
    const result = await runLoader(['find', 'qr', '--name', name, '--json'], { dirs });

    expect(result.code).toBe(0);
    const uids = result.json<{ studyInstanceUid: string }[]>().map((match) => match.studyInstanceUid);
    expect(uids.sort()).toEqual([uidOf.yo, uidOf.ye].sort());
  });

  test('get Семенов retrieves both spellings', async () => {
    const result = await runLoader(['get', 'qr', '--name', 'Семенов', '--json'], { dirs });

    expect(result.code).toBe(0);
    const report = result.json<{ outcome: string; studies: { studyInstanceUid: string; outcome: string }[] }>();
    expect(report.outcome).toBe('success');
    expect(report.studies.map((study) => study.studyInstanceUid).sort()).toEqual([uidOf.yo, uidOf.ye].sort());
  });
});
