/**
 * C-ECHO and C-FIND against Orthanc (UTF-8 data) and DCMTK dcmqrscp
 * (ISO_IR 144 data): Cyrillic names, date ranges, several modalities, wildcards.
 */
import { echoNode, findInstances, findSeries, findStudies } from '../../src/services/query-retrieve';
import { setLogSink } from '../../src/services/logger';
import { LOOPBACK, corpusFile, corpusSamples, startDcmqrscp, startOrthanc, startStorescp, storeFiles } from '../support/peers';
import type { DcmqrscpHandle, OrthancHandle, StorescpHandle } from '../support/peers';
import { LOADER_AE, collect, localIdentity, nodeFor } from './helpers';

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

describe('find on Orthanc', () => {
  let orthanc: OrthancHandle;
  const utf8 = corpusFile('charset-utf8-cyrillic');
  const ct = corpusFile('ct');
  const mr = corpusFile('mr');
  const brain = corpusSamples((file) => file.kind === 'mr-volume');
  const legacy = corpusFile('legacy-date');

  beforeAll(async () => {
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCQR', modalities: { loader: { aet: LOADER_AE, host: LOOPBACK, port: 1 } } });
    for (const file of [utf8, ct, mr, legacy, ...brain]) await orthanc.uploadFile(file.absolutePath);
  });

  afterAll(async () => {
    await orthanc.stop();
  });

  test('echo succeeds', async () => {
    const result = await echoNode(nodeFor(orthanc), localIdentity());
    expect(result.status).toBe(0);
  });

  test('Cyrillic name matches case-insensitively', async () => {
    const matches = await collect(findStudies(nodeFor(orthanc), localIdentity(), { patientName: 'иван' }));
    expect(matches.map((match) => match.studyInstanceUid)).toEqual([utf8.studyInstanceUid]);
    expect(matches[0].patientName).toBe('Иванов^Иван^Петрович');
  });

  test('date range selects studies inside it', async () => {
    const matches = await collect(findStudies(nodeFor(orthanc), localIdentity(), { date: '20040101-20041231' }));
    expect(matches.map((match) => match.studyInstanceUid).sort()).toEqual([ct.studyInstanceUid, mr.studyInstanceUid].sort());
  });

  test('two modalities match either', async () => {
    const matches = await collect(findStudies(nodeFor(orthanc), localIdentity(), { modalities: ['CT', 'OT'] }));
    expect(matches.map((match) => match.studyInstanceUid).sort()).toEqual([ct.studyInstanceUid, legacy.studyInstanceUid, utf8.studyInstanceUid].sort());
  });

  test('wildcard in name is sent as given', async () => {
    const matches = await collect(findStudies(nodeFor(orthanc), localIdentity(), { patientName: 'Daikon*' }));
    expect(matches.map((match) => match.studyInstanceUid)).toEqual([brain[0].studyInstanceUid]);
    expect(matches[0].numberOfStudyRelatedInstances).toBe(brain.length);
  });

  test('legacy date is normalized', async () => {
    const matches = await collect(findStudies(nodeFor(orthanc), localIdentity(), { studyInstanceUids: [legacy.studyInstanceUid!] }));
    expect(matches).toHaveLength(1);
    expect(matches[0].studyDate).toBe('19990524');
  });

  test('series and image levels list the study', async () => {
    const series = await collect(findSeries(nodeFor(orthanc), localIdentity(), brain[0].studyInstanceUid!));
    expect(series).toHaveLength(1);
    expect(series[0].modality).toBe('MR');
    const instances = await collect(findInstances(nodeFor(orthanc), localIdentity(), brain[0].studyInstanceUid!, undefined));
    expect(instances).toHaveLength(brain.length);
    expect(new Set(instances.map((instance) => instance.sopClassUid))).toEqual(new Set([brain[0].sopClassUid]));
  });
});

describe('find on dcmqrscp', () => {
  let dcmqrscp: DcmqrscpHandle;
  const koi8 = corpusFile('charset-iso-ir-144');
  const ct = corpusFile('ct');
  const mr = corpusFile('mr');

  beforeAll(async () => {
    dcmqrscp = await startDcmqrscp({ aeTitle: 'DCMQRSCP' });
    const stored = await storeFiles(dcmqrscp, [koi8.absolutePath, ct.absolutePath, mr.absolutePath]);
    expect(stored.code).toBe(0);
  });

  afterAll(async () => {
    await dcmqrscp.stop();
  });

  test('ISO_IR 144 name matches and decodes', async () => {
    const node = nodeFor(dcmqrscp, { characterSet: ['ISO_IR 144'] });
    const matches = await collect(findStudies(node, localIdentity(), { patientName: 'Люк' }));
    expect(matches.map((match) => match.studyInstanceUid)).toEqual([koi8.studyInstanceUid]);
    expect(matches[0].patientName).toBe(koi8.patientName);
  });

  test('date range selects studies inside it', async () => {
    const node = nodeFor(dcmqrscp, { characterSet: ['ISO_IR 144'] });
    const matches = await collect(findStudies(node, localIdentity(), { date: '20040101-20070405' }));
    expect(matches.map((match) => match.studyInstanceUid).sort()).toEqual([ct.studyInstanceUid, mr.studyInstanceUid, koi8.studyInstanceUid].sort());
  });

  test('modality filter matched per series', async () => {
    // dcmqrscp returns Modalities in Study empty, so the study-level key filters nothing there.
    const node = nodeFor(dcmqrscp, { characterSet: ['ISO_IR 144'] });
    const notices: string[] = [];
    const matches = await collect(findStudies(node, localIdentity(), { modalities: ['MR'] }, { onNotice: (notice) => notices.push(notice.message) }));

    expect(matches.map((match) => match.studyInstanceUid)).toEqual([mr.studyInstanceUid]);
    expect(matches[0].modalitiesInStudy).toEqual(['MR']);
    expect(notices).toEqual([expect.stringContaining('returned Modalities in Study empty; matching modalities per series')]);
  });
});

describe('find on a storage-only node', () => {
  let storescp: StorescpHandle;

  beforeAll(async () => {
    storescp = await startStorescp({ aeTitle: 'STOREONLY' });
  });

  afterAll(async () => {
    await storescp.stop();
  });

  test('rejection names the FIND SOP class', async () => {
    const search = collect(findStudies(nodeFor(storescp), localIdentity(), { patientName: '*' }));

    await expect(search).rejects.toThrow(
      'STOREONLY at 127.0.0.1:' +
        `${storescp.port} accepted none of the 1 proposed presentation contexts: it does not support Study Root Query/Retrieve - FIND ` +
        '(1.2.840.10008.5.1.4.1.2.2.1), so it may be a storage-only node. "loader send" still works with it',
    );
  });
});
