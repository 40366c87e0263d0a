/**
 * Checks the test harness itself: the corpus manifest and each real peer.
 * When these fail, the interoperability tests built on them cannot pass.
 */
import * as fs from 'fs';

import {
  canConnect,
  corpusFile,
  corpusHostileFiles,
  corpusSamples,
  loadCorpus,
  loaderIsBuilt,
  runDcmtk,
  runLoader,
  startDcmqrscp,
  startLoader,
  startOrthanc,
  startStorescp,
  storeFiles,
} from './peers';

describe('test corpus', () => {
  test('manifest files exist', () => {
    for (const file of loadCorpus().files) {
      expect(fs.statSync(file.absolutePath).size).toBe(file.bytes);
    }
  });

  test('SOP Instance UIDs are distinct', () => {
    const uids = loadCorpus()
      .files.map((file) => file.sopInstanceUid)
      .filter((uid): uid is string => !!uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  test('sample studies have one patient each', () => {
    const patientByStudy = new Map<string, string>();
    for (const file of corpusSamples()) {
      const known = patientByStudy.get(file.studyInstanceUid!);
      if (known !== undefined) expect(file.patientId).toBe(known);
      patientByStudy.set(file.studyInstanceUid!, file.patientId!);
    }
  });

  test('character sets decode', () => {
    expect(corpusFile('charset-iso-ir-144').patientName).toBe('Люкceмбypг');
    expect(corpusFile('charset-utf8-cyrillic').patientName).toBe('Иванов^Иван^Петрович');
    expect(corpusFile('charset-iso-2022').patientName).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
  });

  test('legacy date is kept', () => {
    const file = corpusFile('legacy-date');
    expect(file.studyDateRaw).toBe('1999.05.24');
    expect(file.studyDate).toBe('19990524');
  });

  test('hostile files are present', () => {
    const kinds = corpusHostileFiles().map((file) => file.kind);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'hostile-path-traversal-uid',
        'hostile-long-uid',
        'hostile-truncated-header',
        'hostile-not-dicom',
        'hostile-malformed-group-0000',
      ]),
    );
    expect(corpusFile('hostile-path-traversal-uid').sopInstanceUid).toBe('../../evil');
    expect(corpusFile('hostile-long-uid').studyInstanceUid).toHaveLength(65);
  });
});

describe('storescp peer', () => {
  test('receives a stored file', async () => {
    const storescp = await startStorescp({ aeTitle: 'STORESCP', acceptAll: true });
    const echo = await runDcmtk('echoscu', ['-aec', 'STORESCP', storescp.host, String(storescp.port)]);
    expect(echo.code).toBe(0);

    const sample = corpusFile('jpeg2000');
    const store = await storeFiles(storescp, [sample.absolutePath]);
    expect(store.stderr).toBe('');
    expect(store.code).toBe(0);
    expect(storescp.receivedFiles()).toHaveLength(1);

    await storescp.stop();
    expect(storescp.process.exitStatus).toBeDefined();
    expect(await canConnect(storescp.host, storescp.port)).toBe(false);
  });
});

describe('peer start failure', () => {
  test('error shows the log tail', async () => {
    const start = startStorescp({ aeTitle: 'STORESCP', extraArgs: ['--no-such-option'] });
    await expect(start).rejects.toThrow(/exited with code 1[\s\S]*last lines of .*storescp\.log[\s\S]*no-such-option/);
  });
});

describe('dcmqrscp peer', () => {
  test('stores, finds and moves a study', async () => {
    const storescp = await startStorescp({ aeTitle: 'MOVEDEST' });
    const qrscp = await startDcmqrscp({ aeTitle: 'QRSCP', hostTable: [storescp] });
    const study = corpusSamples((file) => file.kind === 'mr-volume');

    const store = await storeFiles(qrscp, study.map((file) => file.absolutePath));
    expect(store.code).toBe(0);

    const find = await runDcmtk('findscu', [
      '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `PatientID=${study[0].patientId}`, '-k', 'StudyInstanceUID',
      '-aec', 'QRSCP', qrscp.host, String(qrscp.port),
    ]);
    expect(find.code).toBe(0);
    expect(find.stderr).toContain(study[0].studyInstanceUid);

    const move = await runDcmtk('movescu', [
      '-S', '-aem', 'MOVEDEST', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study[0].studyInstanceUid}`,
      '-aec', 'QRSCP', qrscp.host, String(qrscp.port),
    ]);
    expect(move.code).toBe(0);
    expect(storescp.receivedFiles()).toHaveLength(study.length);
  });
});

describe('Orthanc peer', () => {
  test('queries dcmqrscp and stores to storescp', async () => {
    const storescp = await startStorescp({ aeTitle: 'STORESCP', acceptAll: true });
    const qrscp = await startDcmqrscp({ aeTitle: 'QRSCP', hostTable: [] });
    const orthanc = await startOrthanc({
      aeTitle: 'ORTHANC',
      modalities: {
        storescp: { aet: 'STORESCP', host: storescp.host, port: storescp.port },
        qrscp: { aet: 'QRSCP', host: qrscp.host, port: qrscp.port },
      },
    });

    const cyrillic = corpusFile('charset-utf8-cyrillic');
    const store = await storeFiles(orthanc, [cyrillic.absolutePath, corpusFile('jpeg-ls-lossless').absolutePath]);
    expect(store.code).toBe(0);
    expect(await orthanc.listStudies()).toHaveLength(2);

    const instanceId = await orthanc.findInstance(cyrillic.sopInstanceUid!);
    expect(instanceId).toBeDefined();
    expect((await orthanc.instanceFile(instanceId!)).equals(fs.readFileSync(cyrillic.absolutePath))).toBe(true);

    expect(await orthanc.echo('qrscp')).toBe(true);
    await storeFiles(qrscp, [corpusFile('ct').absolutePath]);
    const answers = await orthanc.query('qrscp', 'Study', { PatientID: '*', StudyInstanceUID: '' });
    expect(answers.map((answer) => answer.StudyInstanceUID)).toEqual([corpusFile('ct').studyInstanceUid]);

    await orthanc.store('storescp', [instanceId!]);
    expect(storescp.receivedFiles()).toHaveLength(1);
  });
});

const describeLoader = loaderIsBuilt() ? describe : describe.skip;

describeLoader('loader server', () => {
  test('starts, answers C-ECHO and stops on SIGTERM', async () => {
    const server = await startLoader();
    const echo = await runDcmtk('echoscu', ['-aec', server.aeTitle, server.host, String(server.port)]);
    expect(echo.code).toBe(0);

    const status = await server.stop();
    expect(status.code).toBe(0);
  });

  test('one-shot command uses temp folders', async () => {
    const result = await runLoader(['studies', '--json']);
    expect(result.code).toBe(0);
    expect(result.json()).toEqual([]);
  });
});
