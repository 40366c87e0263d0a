/**
 * Orthanc 1.10 and `loader serve` as peers. Orthanc has the loader configured
 * as the modality "loader". The loader accepts registered AE titles only and
 * has Orthanc registered as a node. Orthanc queries the loader (C-FIND), retrieves a
 * study from it to itself (C-MOVE), and pushes a study to it (C-STORE).
 */
import {
  CorpusFile,
  LoaderServer,
  OrthancHandle,
  corpusFile,
  corpusSamples,
  runLoader,
  startLoader,
  startOrthanc,
} from '../support/peers';
import { archivePathOf, listStudies, readPart10, splitPart10, storeWithOwnSyntax } from './helpers';

const samples = corpusSamples();
const studyOf = (kind: string) => samples.filter((file) => file.studyInstanceUid === corpusFile(kind).studyInstanceUid);
/** Studies stored in the loader before Orthanc connects. */
const mixedStudy = studyOf('jpeg-ls-lossless');
const brainStudy = studyOf('mr-volume');
const cyrillicStudy = studyOf('charset-utf8-cyrillic');
/** Studies uploaded to Orthanc, which pushes them to the loader. */
const pushedStudy = studyOf('us-multiframe-rle');
const pushedCompressed = studyOf('jpeg-baseline');

let loader: LoaderServer;
let orthanc: OrthancHandle;

beforeAll(async () => {
  loader = await startLoader([], { aeTitle: 'LOADER', acceptAny: false });
  orthanc = await startOrthanc({
    aeTitle: 'ORTHANC',
    modalities: { loader: { aet: loader.aeTitle, host: loader.host, port: loader.port } },
  });

  for (const [name, node] of [['orthanc', orthanc], ['storescu', { aeTitle: 'STORESCU', host: '127.0.0.1', port: 104 }]] as const) {
    const add = await runLoader(['nodes', 'add', name, '--aet', node.aeTitle, '--host', node.host, '--port', String(node.port)], {
      dirs: loader.dirs,
    });
    if (add.code !== 0) throw new Error(`loader nodes add ${name} failed: ${add.stderr}`);
  }

  const store = await storeWithOwnSyntax(loader, [...mixedStudy, ...brainStudy, ...cyrillicStudy], 'STORESCU');
  if (store.code !== 0) throw new Error(`storing studies in the loader failed: ${store.stderr.slice(-2000)}`);
}, 90_000);

function expectSameDataset(received: Buffer | string, sent: CorpusFile): void {
  const arrived = typeof received === 'string' ? readPart10(received) : splitPart10(received, sent.path);
  const original = readPart10(sent.absolutePath);
  expect({ file: sent.path, transferSyntax: arrived.transferSyntax }).toEqual({ file: sent.path, transferSyntax: original.transferSyntax });
  expect({ file: sent.path, sameDataset: arrived.dataset.equals(original.dataset) }).toEqual({ file: sent.path, sameDataset: true });
}

describe('Orthanc and the loader', () => {
  test('echo from Orthanc', async () => {
    expect(await orthanc.echo('loader')).toBe(true);
  });

  test('study query finds every study', async () => {
    const answers = await orthanc.query('loader', 'Study', { PatientID: '*', StudyInstanceUID: '', NumberOfStudyRelatedInstances: '' });

    const expected = [mixedStudy, brainStudy, cyrillicStudy].map((study) => study[0].studyInstanceUid!).sort();
    expect(answers.map((answer) => answer.StudyInstanceUID).sort()).toEqual(expected);
    const counts = Object.fromEntries(answers.map((answer) => [answer.StudyInstanceUID, answer.NumberOfStudyRelatedInstances]));
    expect(counts[brainStudy[0].studyInstanceUid!]).toBe(String(brainStudy.length));
  });

  test('query returns Cyrillic name', async () => {
    const answers = await orthanc.query('loader', 'Study', { PatientID: cyrillicStudy[0].patientId!, PatientName: '' });

    expect(answers.map((answer) => answer.PatientName)).toEqual([cyrillicStudy[0].patientName]);
  });

  test('series query of one study', async () => {
    const answers = await orthanc.query('loader', 'Series', {
      StudyInstanceUID: mixedStudy[0].studyInstanceUid!,
      SeriesInstanceUID: '',
      Modality: '',
    });

    const expected = [...new Set(mixedStudy.map((file) => file.seriesInstanceUid!))].sort();
    expect(answers.map((answer) => answer.SeriesInstanceUID).sort()).toEqual(expected);
  });

  test.each([
    ['mixed syntax study', mixedStudy],
    ['brain study', brainStudy],
  ])('move of %s to Orthanc', async (_name, study) => {
    await orthanc.move('loader', 'Study', [{ StudyInstanceUID: study[0].studyInstanceUid! }]);

    for (const file of study) {
      const id = await orthanc.findInstance(file.sopInstanceUid!);
      expect({ file: file.path, inOrthanc: id !== undefined }).toEqual({ file: file.path, inOrthanc: true });
      if (id) expectSameDataset(await orthanc.instanceFile(id), file);
    }
  });

  test.each([
    ['RLE multi-frame study', pushedStudy],
    ['JPEG baseline study', pushedCompressed],
  ])('push of %s to the loader', async (_name, study) => {
    const ids: string[] = [];
    for (const file of study) ids.push(await orthanc.uploadFile(file.absolutePath));

    await orthanc.store('loader', ids);

    for (const file of study) expectSameDataset(archivePathOf(loader.dirs.archiveDir, file), file);
    const rows = await listStudies(loader.dirs);
    const row = rows.find((candidate) => candidate.studyInstanceUid === study[0].studyInstanceUid);
    expect(row?.numberOfInstances).toBe(study.length);
  });

  test('loader log names Orthanc', () => {
    expect(loader.readLog()).toMatch(/callingAe=ORTHANC/);
    expect(loader.readLog()).not.toMatch(/ ERROR /);
  });
});
