/**
 * An instance of another Patient ID sent under a stored Study Instance UID
 * or SOP Instance UID: `loader serve` answers storescu with a failure status,
 * keeps one copy in .conflicts however often it comes, and C-FIND and C-MOVE
 * of the study return only the first patient's instances. `loader get` from
 * Orthanc, which stores the other patient's instance, reports it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LOOPBACK, associationArgs, corpusFile, createLoaderDirs, freePort, loaderIsBuilt, runDcmtk, runLoader, startLoader, startOrthanc, startStorescp } from '../support/peers';
import type { LoaderServer, OrthancHandle, RunResult, StorescpHandle } from '../support/peers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

function sendFile(server: LoaderServer, file: string): Promise<RunResult> {
  return runDcmtk('storescu', ['-d', ...associationArgs(server, 'OTHERSCU'), file], { timeoutMs: 120_000 });
}

function conflictCopies(archiveDir: string): string[] {
  const folder = path.join(archiveDir, '.conflicts');
  return fs.existsSync(folder) ? fs.readdirSync(folder) : [];
}

/** Copies `source` to `target` with the given DICOM changes (dcmodify -i TAG=VALUE). */
async function modifiedCopy(source: string, target: string, changes: Record<string, string>): Promise<string> {
  fs.copyFileSync(source, target);
  const result = await runDcmtk('dcmodify', ['-nb', ...Object.entries(changes).flatMap(([tag, value]) => ['-i', `${tag}=${value}`]), target]);
  if (result.code !== 0) throw new Error(`dcmodify failed: ${result.stderr}`);
  return target;
}

/** Returns the Number of Study Related Instances that a STUDY level C-FIND finds for `studyInstanceUid`. */
async function studyInstanceCount(server: LoaderServer, studyInstanceUid: string, patientId = ''): Promise<string[]> {
  const result = await runDcmtk('findscu', [
    '-v',
    '-S',
    ...associationArgs(server, 'OTHERFIND'),
    '-k', 'QueryRetrieveLevel=STUDY',
    '-k', `StudyInstanceUID=${studyInstanceUid}`,
    '-k', `PatientID=${patientId}`,
    '-k', 'NumberOfStudyRelatedInstances',
  ]);
  return [...result.stderr.matchAll(/\(0020,1208\) IS \[(\d+) ?\]/g)].map((match) => match[1]);
}

describeBuilt('instance of another patient', () => {
  const ct = corpusFile('ct');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-other-patient-'));
  let server: LoaderServer;
  let receiver: StorescpHandle;
  let otherStudy: string;
  let otherInstance: string;

  beforeAll(async () => {
    receiver = await startStorescp({ aeTitle: 'OTHERDEST', outputDir: path.join(work, 'moved') });
    server = await startLoader([], { aeTitle: 'OTHERPAT' });
    const added = await runLoader(['nodes', 'add', 'dest', '--aet', receiver.aeTitle, '--host', LOOPBACK, '--port', String(receiver.port)], { dirs: server.dirs });
    expect(added.code).toBe(0);
    expect((await sendFile(server, ct.absolutePath)).code).toBe(0);
    otherStudy = await modifiedCopy(ct.absolutePath, path.join(work, 'other-study.dcm'), { '(0008,0018)': `${ct.sopInstanceUid}.9`, '(0010,0020)': 'OTHER' });
    otherInstance = await modifiedCopy(ct.absolutePath, path.join(work, 'other-instance.dcm'), {
      '(0020,000d)': `${ct.studyInstanceUid}.9`,
      '(0020,000e)': `${ct.seriesInstanceUid}.9`,
      '(0010,0020)': 'OTHER',
    });
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('storescu receives a failure status', async () => {
    const first = await sendFile(server, otherStudy);
    const second = await sendFile(server, otherStudy);

    expect(first.stderr).toContain('0xc000: Error: Cannot understand');
    expect(first.stderr).toContain('Study is stored under another Patient ID; kept aside');
    expect(second.stderr).toContain('0xc000: Error: Cannot understand');
    expect(conflictCopies(server.dirs.archiveDir)).toHaveLength(1);
    expect(fs.readdirSync(path.join(server.dirs.archiveDir, ct.studyInstanceUid!, ct.seriesInstanceUid!))).toEqual([`${ct.sopInstanceUid}.dcm`]);
    const warning = server.readLog().split('\n').find((line) => line.includes('stored under another Patient ID'));
    expect(warning).toContain('callingAeTitle=OTHERSCU');
    expect(warning).toContain('calledAeTitle=OTHERPAT');
    expect(warning).toContain('receivedPatientId=OTHER');
    expect(warning).toContain(`studyInstanceUid=${ct.studyInstanceUid}`);
  }, 240_000);

  test('C-FIND finds the first patient only', async () => {
    expect(await studyInstanceCount(server, ct.studyInstanceUid!)).toEqual(['1']);
    expect(await studyInstanceCount(server, ct.studyInstanceUid!, 'OTHER')).toEqual([]);
  }, 120_000);

  test('C-MOVE sends the first patient only', async () => {
    const moved = await runDcmtk('movescu', ['-S', ...associationArgs(server, 'OTHERMOVE'), '-aem', receiver.aeTitle, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${ct.studyInstanceUid}`], {
      timeoutMs: 120_000,
    });

    expect(moved.code).toBe(0);
    expect(fs.readdirSync(path.join(work, 'moved'))).toHaveLength(1);
  }, 120_000);

  test('SOP Instance UID of another patient fails', async () => {
    const result = await sendFile(server, otherInstance);

    expect(result.stderr).toContain('0xc000: Error: Cannot understand');
    expect(result.stderr).toContain('SOP Instance is stored under another Patient ID');
    expect(fs.existsSync(path.join(server.dirs.archiveDir, `${ct.studyInstanceUid}.9`))).toBe(false);
  }, 120_000);
});

describeBuilt('get of another patient from Orthanc', () => {
  const ct = corpusFile('ct');
  const dirs = createLoaderDirs('other-patient-get');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'loader-other-get-'));
  const callingAeTitle = 'LOADEROTHER';
  let orthanc: OrthancHandle;

  beforeAll(async () => {
    const movePort = await freePort();
    orthanc = await startOrthanc({ aeTitle: 'ORTHOTHER', modalities: { loader: { aet: callingAeTitle, host: LOOPBACK, port: movePort } } });
    const other = await modifiedCopy(ct.absolutePath, path.join(work, 'other.dcm'), { '(0008,0018)': `${ct.sopInstanceUid}.8`, '(0010,0020)': 'OTHER' });
    await orthanc.uploadFile(other);
    const server = await startLoader([], { aeTitle: 'OTHERGET', dirs });
    expect((await sendFile(server, ct.absolutePath)).code).toBe(0);
    await server.stop();
    for (const command of [
      ['nodes', 'add', 'orth', '--aet', orthanc.aeTitle, '--host', orthanc.host, '--port', String(orthanc.port)],
      ['config', 'set', 'pacs.aeTitle', callingAeTitle],
      ['config', 'set', 'pacs.moveScuPort', String(movePort)],
    ]) {
      expect((await runLoader(command, { dirs })).code).toBe(0);
    }
  }, 180_000);

  afterAll(async () => {
    await orthanc?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test.each(['get', 'move'])('%s reports the other patient', async (method) => {
    const result = await runLoader(['get', 'orth', '--study-uid', ct.studyInstanceUid!, '--method', method, '--json'], { dirs, timeoutMs: 120_000 });

    expect(result.stdout + result.stderr).toContain('under Patient ID');
    expect(fs.readdirSync(path.join(dirs.archiveDir, ct.studyInstanceUid!, ct.seriesInstanceUid!))).toEqual([`${ct.sopInstanceUid}.dcm`]);
    expect(conflictCopies(dirs.archiveDir)).toHaveLength(1);
  }, 120_000);
});
