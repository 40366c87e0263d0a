/**
 * C-FIND of `loader serve` with matching keys that its index cannot match.
 * findscu gets every match with status FF01 (PS3.4 table C.4-1) and treats
 * it as pending. Return keys keep FF00. The log line of the request names
 * the unsupported keys once, without their values.
 */
import path from 'node:path';
import { setLogSink } from '../../src/services/logger';
import { CT_SMALL, Tag, freshCopy } from '../archive/fixtures';
import { LoaderServer, associationArgs, makeTempDir, runDcmtk, sleep, startLoader, storeFiles } from '../support/peers';
import { loaderClientFindStatuses } from './helpers';

const UID_ROOT = '1.2.826.0.1.3680043.9.7433.4.93';
const STUDY_UIDS = [`${UID_ROOT}.1`, `${UID_ROOT}.2`];

/** How findscu 3.6.7 -v names the two pending statuses. */
const PENDING = 'Pending';
const PENDING_WARNING = 'Pending: WarningUnsupportedOptionalKeys';

interface FindscuResult {
  code: number | null;
  /** Status text of each pending response, in order. */
  pending: string[];
  finalStatus: string;
}

let loader: LoaderServer;
let previousSink: (line: string) => void;

beforeAll(async () => {
  previousSink = setLogSink(() => undefined);
  const workDir = makeTempDir('find-unsupported');
  const files = STUDY_UIDS.map((uid, index) =>
    freshCopy(CT_SMALL, path.join(workDir, `study-${index + 1}.dcm`), {
      [Tag.StudyInstanceUID]: uid,
      [Tag.PatientID]: `LDR-UNSUP-${index + 1}`,
    }),
  );
  loader = await startLoader([], { aeTitle: 'LOADER' });
  const store = await storeFiles(loader, files);
  if (store.code !== 0) throw new Error(`storing the studies failed: ${store.stderr.slice(-2000)}`);
});

afterAll(async () => {
  await loader?.stop();
  setLogSink(previousSink);
});

/** Runs findscu -v in the Study Root model with the calling AE title `callingAeTitle` and returns the statuses it reports. */
async function findscu(callingAeTitle: string, keys: string[]): Promise<FindscuResult> {
  const args = ['-v', '-S'];
  for (const key of keys) args.push('-k', key);
  args.push(...associationArgs(loader, callingAeTitle));
  const run = await runDcmtk('findscu', args);
  const pending = [...run.stderr.matchAll(/Find Response: \d+ \(([^)]*)\)/g)].map((match) => match[1]);
  const finalStatus = /Received Final Find Response \(([^)]*)\)/.exec(run.stderr)?.[1] ?? '';
  return { code: run.code, pending, finalStatus };
}

/** Waits for the server's log line about the C-FIND from `callingAeTitle` and returns it. */
async function findLogLine(callingAeTitle: string): Promise<string> {
  const pattern = new RegExp(`^.*C-FIND (completed|cancelled|rejected) callingAeTitle=${callingAeTitle} .*$`, 'gm');
  for (let attempt = 0; attempt < 50; attempt++) {
    const lines = loader.readLog().match(pattern);
    if (lines) {
      expect(lines).toHaveLength(1);
      return lines[0];
    }
    await sleep(100);
  }
  throw new Error(`no C-FIND log line for ${callingAeTitle} in:\n${loader.readLog().slice(-3000)}`);
}

describe('C-FIND unsupported matching keys', () => {
  test('optional key sends FF01', async () => {
    const result = await findscu('UNSUPOPER', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'OperatorsName=Bob']);

    expect(result.code).toBe(0);
    expect(result.finalStatus).toBe('Success');
    expect(result.pending).toEqual(STUDY_UIDS.map(() => PENDING_WARNING));
  });

  test('optional key named once in log', async () => {
    await findscu('UNSUPLOG', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'PatientID', 'OperatorsName=Bob^Smith']);
    const line = await findLogLine('UNSUPLOG');

    expect(line).toContain(' unsupportedKeys=OperatorsName ');
    expect(line.match(/unsupportedKeys=/g)).toHaveLength(1);
    expect(line).toContain('matches=2');
    expect(loader.readLog()).not.toContain('Bob^Smith');
  });

  test('sequence item value sends FF01', async () => {
    const result = await findscu('UNSUPSEQ', [
      'QueryRetrieveLevel=STUDY',
      'StudyInstanceUID',
      'ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2.3.4',
    ]);
    const line = await findLogLine('UNSUPSEQ');

    expect(result.code).toBe(0);
    expect(result.pending).toEqual(STUDY_UIDS.map(() => PENDING_WARNING));
    expect(line).toContain(' unsupportedKeys=ReferencedStudySequence ');
  });

  test('series key at study level sends FF01', async () => {
    const result = await findscu('UNSUPLEVEL', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'SeriesDescription=Head']);
    const line = await findLogLine('UNSUPLEVEL');

    expect(result.pending).toEqual(STUDY_UIDS.map(() => PENDING_WARNING));
    expect(line).toContain(' unsupportedKeys=SeriesDescription ');
  });

  test('two unsupported keys listed', async () => {
    await findscu('UNSUPTWO', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'OperatorsName=Bob', 'PerformingPhysicianName=Ann']);
    const line = await findLogLine('UNSUPTWO');

    // In tag order: Performing Physician's Name is (0008,1050), Operators' Name (0008,1070).
    expect(line).toContain(' unsupportedKeys=PerformingPhysicianName,OperatorsName ');
  });

  test('return keys keep FF00', async () => {
    const result = await findscu('RETKEYS', [
      'QueryRetrieveLevel=STUDY',
      'StudyInstanceUID',
      'OperatorsName',
      'SeriesDescription',
      'ReferencedStudySequence[0].ReferencedSOPInstanceUID',
    ]);
    const line = await findLogLine('RETKEYS');

    expect(result.code).toBe(0);
    expect(result.pending).toEqual(STUDY_UIDS.map(() => PENDING));
    expect(line).not.toContain('unsupportedKeys');
  });

  test('only-asterisk value keeps FF00', async () => {
    const result = await findscu('ASTERISK', ['QueryRetrieveLevel=STUDY', 'StudyInstanceUID', 'OperatorsName=*']);

    expect(result.pending).toEqual(STUDY_UIDS.map(() => PENDING));
  });

  test('supported keys keep FF00', async () => {
    const result = await findscu('SUPPORTED', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${STUDY_UIDS[0]}`, 'PatientID=LDR-UNSUP-*']);

    expect(result.pending).toEqual([PENDING]);
  });

  test('no match still logs the key', async () => {
    const result = await findscu('UNSUPNONE', ['QueryRetrieveLevel=STUDY', `StudyInstanceUID=${UID_ROOT}.99`, 'OperatorsName=Bob']);
    const line = await findLogLine('UNSUPNONE');

    expect(result.pending).toEqual([]);
    expect(result.finalStatus).toBe('Success');
    expect(line).toContain(' unsupportedKeys=OperatorsName ');
  });
});

describe('C-FIND private keys', () => {
  /** Sends one Study Root C-FIND at STUDY level with the loader's own client and returns every response status. */
  function findStatuses(callingAeTitle: string, elements: Parameters<typeof loaderClientFindStatuses>[2]): Promise<number[]> {
    return loaderClientFindStatuses(loader, callingAeTitle, [{ tag: 0x00080052, vr: 'CS', value: 'STUDY' }, { tag: 0x0020000d, vr: 'UI', value: '' }, ...elements]);
  }

  test('private value sends FF01', async () => {
    const statuses = await findStatuses('PRIVVALUE', [
      { tag: 0x00090010, vr: 'LO', value: 'ACME 1.0' },
      { tag: 0x00091001, vr: 'LO', value: 'x' },
    ]);
    const line = await findLogLine('PRIVVALUE');

    expect(statuses).toEqual([0xff01, 0xff01, 0x0000]);
    expect(line).toContain(' unsupportedKeys=(0009,1001) ');
  });

  test('many private keys cut in log', async () => {
    const privateKeys = Array.from({ length: 40 }, (_, index) => ({ tag: 0x00091001 + index, vr: 'LO', value: 'x' }));
    const statuses = await findStatuses('PRIVMANY', [{ tag: 0x00090010, vr: 'LO', value: 'ACME 1.0' }, ...privateKeys]);
    const line = await findLogLine('PRIVMANY');

    expect(statuses).toEqual([0xff01, 0xff01, 0x0000]);
    expect(line).toContain(',(0009,1010),...(40 in all)" ');
    expect(line).not.toContain('(0009,1011)');
  });

  test('private creator alone keeps FF00', async () => {
    const statuses = await findStatuses('PRIVCREATOR', [
      { tag: 0x00090010, vr: 'LO', value: 'ACME 1.0' },
      { tag: 0x00091001, vr: 'LO', value: '' },
    ]);

    expect(statuses).toEqual([0xff00, 0xff00, 0x0000]);
  });
});
