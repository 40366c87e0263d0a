/**
 * C-FIND matches with status FF01 ("one or more optional keys were not
 * supported", PS3.4 table C.4-1) from a scripted SCP built on the loader's
 * DicomServer. The client keeps every match and reports one notice per
 * search, and `loader find` prints it as a warning. The SCP is scripted
 * because DCMTK dcmqrscp 3.6.7 and Orthanc 1.10.1 ignored a Referenced Study
 * Sequence matching key and still sent FF00.
 */
import { acceptSupportedContexts, DicomServer, STATUS } from '../../src/dicom/network';
import type { FindMatch, QueryRequestContext } from '../../src/dicom/network';
import { parseDataset } from '../../src/dicom/parser';
import { encodeElements } from '../../src/dicom/writer';
import type { ElementSpec } from '../../src/dicom/writer';
import { setLogSink } from '../../src/services/logger';
import { findInstances, findSeries, findStudies } from '../../src/services/query-retrieve';
import type { QueryNotice } from '../../src/services/query-retrieve';
import { createLoaderDirs, LOOPBACK, loaderIsBuilt, runLoader } from '../support/peers';
import { collect, localIdentity, nodeFor } from './helpers';

const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const EXPLICIT_LE = { littleEndian: true, explicitVr: true };

const STUDY_UIDS = ['1.2.3.1', '1.2.3.2', '1.2.3.3'];
const SERIES_UIDS = ['1.2.3.1.1', '1.2.3.1.2'];

const Tags = {
  QueryRetrieveLevel: 0x00080052,
  SOPInstanceUID: 0x00080018,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
};

let previousSink: (line: string) => void;
let server: DicomServer;
let port: number;
/** Pending status of every match the scripted SCP sends. */
let pendingStatus: FindMatch['status'] = STATUS.PENDING;

function identifier(elements: ElementSpec[]): Buffer {
  return encodeElements(elements, EXPLICIT_LE);
}

/** Returns the scripted matches for one request: three studies, two series of a study, or one instance of a series. */
function matchesFor(request: Buffer): Buffer[] {
  const dataset = parseDataset(request, EXPLICIT_LE, { stopAtTag: null });
  const level = dataset.getString(Tags.QueryRetrieveLevel);
  const studyUid = dataset.getString(Tags.StudyInstanceUID) ?? '';
  if (level === 'STUDY') {
    return STUDY_UIDS.map((uid) => identifier([{ tag: Tags.QueryRetrieveLevel, vr: 'CS', value: 'STUDY' }, { tag: Tags.StudyInstanceUID, vr: 'UI', value: uid }]));
  }
  if (level === 'SERIES') {
    return SERIES_UIDS.map((uid) =>
      identifier([
        { tag: Tags.QueryRetrieveLevel, vr: 'CS', value: 'SERIES' },
        { tag: Tags.StudyInstanceUID, vr: 'UI', value: studyUid },
        { tag: Tags.SeriesInstanceUID, vr: 'UI', value: uid },
      ]),
    );
  }
  const seriesUid = dataset.getString(Tags.SeriesInstanceUID) ?? '';
  return [
    identifier([
      { tag: Tags.SOPInstanceUID, vr: 'UI', value: `${seriesUid}.1` },
      { tag: Tags.QueryRetrieveLevel, vr: 'CS', value: 'IMAGE' },
      { tag: Tags.StudyInstanceUID, vr: 'UI', value: studyUid },
      { tag: Tags.SeriesInstanceUID, vr: 'UI', value: seriesUid },
    ]),
  ];
}

beforeAll(async () => {
  previousSink = setLogSink(() => undefined);
  server = new DicomServer({
    aeTitle: 'SCRIPTED',
    implementationClassUid: '1.2.826.0.1.3680043.10.1234.9',
    implementationVersionName: 'SCRIPTED',
    decide: (request) => acceptSupportedContexts(request, new Map([[STUDY_ROOT_FIND, ['1.2.840.10008.1.2.1']]])),
    handlers: {
      find: (ctx: QueryRequestContext) =>
        (async function* () {
          for (const match of matchesFor(ctx.identifier)) yield { identifier: match, status: pendingStatus };
        })(),
    },
  });
  port = (await server.listen(0, LOOPBACK)).port;
});

afterAll(async () => {
  await server.close({ timeoutMs: 1000 });
  setLogSink(previousSink);
});

const node = () => nodeFor({ aeTitle: 'SCRIPTED', host: LOOPBACK, port });

describe('find with status FF01', () => {
  beforeEach(() => {
    pendingStatus = STATUS.PENDING_WITH_WARNINGS;
  });

  test('studies all yielded', async () => {
    const matches = await collect(findStudies(node(), localIdentity(), { patientName: 'Smith' }));

    expect(matches.map((match) => match.studyInstanceUid)).toEqual(STUDY_UIDS);
  });

  test('studies notice given once', async () => {
    const notices: QueryNotice[] = [];
    await collect(findStudies(node(), localIdentity(), { patientName: 'Smith' }, { onNotice: (notice) => notices.push(notice) }));

    expect(notices).toHaveLength(1);
    expect(notices[0].kind).toBe('unsupported-keys');
    expect(notices[0].message).toMatch(/^SCRIPTED \(SCRIPTED\) did not support one or more optional keys .*0xFF01/);
  });

  test('series notice given once', async () => {
    const notices: QueryNotice[] = [];
    const series = await collect(findSeries(node(), localIdentity(), STUDY_UIDS[0], { onNotice: (notice) => notices.push(notice) }));

    expect(series.map((match) => match.seriesInstanceUid)).toEqual(SERIES_UIDS);
    expect(notices.map((notice) => notice.kind)).toEqual(['unsupported-keys']);
  });

  test('instances of two series noticed once', async () => {
    const notices: QueryNotice[] = [];
    const instances = await collect(findInstances(node(), localIdentity(), STUDY_UIDS[0], undefined, { onNotice: (notice) => notices.push(notice) }));

    expect(instances.map((instance) => instance.sopInstanceUid)).toEqual(SERIES_UIDS.map((uid) => `${uid}.1`));
    expect(notices.map((notice) => notice.kind)).toEqual(['unsupported-keys']);
  });
});

describe('find with status FF00', () => {
  beforeEach(() => {
    pendingStatus = STATUS.PENDING;
  });

  test('studies give no notice', async () => {
    const notices: QueryNotice[] = [];
    const matches = await collect(findStudies(node(), localIdentity(), { patientName: 'Smith' }, { onNotice: (notice) => notices.push(notice) }));

    expect(matches).toHaveLength(STUDY_UIDS.length);
    expect(notices).toEqual([]);
  });
});

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

describeBuilt('loader find with status FF01', () => {
  const dirs = createLoaderDirs('find-ff01');
  const peerArgs = () => ['--host', LOOPBACK, '--port', String(port), '-aec', 'SCRIPTED', '-aet', 'LOADERCLI'];
  // A node given by --host, --port and -aec is named AE@HOST:PORT.
  const warning = /^loader: warning: SCRIPTED@127\.0\.0\.1:\d+ did not support one or more optional keys of the query \(C-FIND status 0xFF01\), so matches may ignore a filter or lack some values$/m;

  beforeEach(() => {
    pendingStatus = STATUS.PENDING_WITH_WARNINGS;
  });

  test('studies printed with warning', async () => {
    const result = await runLoader(['find', ...peerArgs(), '--name', 'Smith'], { dirs });

    expect(result.code).toBe(0);
    // A heading line, a dash line and one line per study.
    expect(result.stdout.trim().split('\n')).toHaveLength(2 + STUDY_UIDS.length);
    expect(result.stderr).toMatch(warning);
    expect(result.stderr.match(/^loader: warning:/gm)).toHaveLength(1);
    expect(result.stderr).toMatch(/^3 studies$/m);
  });

  test('series level warns too', async () => {
    const result = await runLoader(['find', ...peerArgs(), '--level', 'SERIES', '--study-uid', STUDY_UIDS[0]], { dirs });

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(warning);
  });

  test('JSON output stays valid', async () => {
    const result = await runLoader(['find', ...peerArgs(), '--name', 'Smith', '--json'], { dirs });

    expect(result.code).toBe(0);
    expect(result.json<{ studyInstanceUid: string }[]>().map((match) => match.studyInstanceUid)).toEqual(STUDY_UIDS);
    expect(result.stderr).toMatch(warning);
  });

  test('FF00 prints no warning', async () => {
    pendingStatus = STATUS.PENDING;
    const result = await runLoader(['find', ...peerArgs(), '--name', 'Smith'], { dirs });

    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/^loader: warning:/m);
  });
});
