/**
 * Interoperability with Orthanc in both roles: Orthanc calls our DicomServer (echo,
 * store, find), and our client calls Orthanc (find, get, move to our server).
 */
import { DicomServer, QueryRequestContext, StoreRequestContext, connect } from '../../src/dicom/network';
import { setLogSink } from '../../src/services/logger';
import { LOOPBACK, OrthancHandle, corpusFile, startOrthanc } from '../support/peers';
import {
  CT_IMAGE_STORAGE,
  EXPLICIT_LE,
  IMPLEMENTATION,
  IMPLICIT_LE,
  STUDY_ROOT_FIND,
  STUDY_ROOT_GET,
  STUDY_ROOT_MOVE,
  encodeDataset,
  readAll,
  readPart10,
  startServer,
} from './helpers';

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

describe('Orthanc interoperability', () => {
  let server: DicomServer;
  let port: number;
  let orthanc: OrthancHandle;
  const stored = new Map<string, { transferSyntax: string; data: Buffer; callingAeTitle: string }>();
  const ct = corpusFile('ct');
  const rle = corpusFile('rle');
  const ctPart = readPart10(ct.absolutePath);
  const rlePart = readPart10(rle.absolutePath);

  beforeAll(async () => {
    ({ server, port } = await startServer({
      echo: async () => ({ status: 0 }),
      store: async (ctx: StoreRequestContext) => {
        stored.set(ctx.sopInstanceUid, { transferSyntax: ctx.presentationContext.transferSyntax, data: await readAll(ctx.data), callingAeTitle: ctx.association.callingAeTitle });
        return { status: 0 };
      },
      find: (ctx: QueryRequestContext) => {
        const transferSyntax = ctx.presentationContext.transferSyntax;
        return (async function* () {
          for (const study of ['1.2.826.0.1.3680043.10.99.1', '1.2.826.0.1.3680043.10.99.2']) {
            yield encodeDataset(
              [
                [0x00080052, 'CS', 'STUDY'],
                [0x0020000d, 'UI', study],
              ],
              transferSyntax,
            );
          }
        })();
      },
    }));
    orthanc = await startOrthanc({ aeTitle: 'ORTHANC', modalities: { loader: { aet: 'LOADER', host: LOOPBACK, port } } });
    await orthanc.uploadFile(ct.absolutePath);
    await orthanc.uploadFile(rle.absolutePath);
  });

  afterAll(async () => {
    await server.close({ timeoutMs: 1000 });
    await orthanc.stop();
  });

  const orthancNode = () => ({ host: LOOPBACK, port: orthanc.port, callingAeTitle: 'LOADER', calledAeTitle: orthanc.aeTitle, ...IMPLEMENTATION });

  test('Orthanc echoes our server', async () => {
    expect(await orthanc.echo('loader')).toBe(true);
  });

  test('Orthanc stores into our server', async () => {
    const ids = [(await orthanc.findInstance(ctPart.sopInstanceUid))!, (await orthanc.findInstance(rlePart.sopInstanceUid))!];
    await orthanc.store('loader', ids);
    for (const part of [ctPart, rlePart]) {
      const received = stored.get(part.sopInstanceUid);
      expect(received).toBeDefined();
      expect(received!.callingAeTitle).toBe('ORTHANC');
      if (received!.transferSyntax === part.transferSyntax) expect(received!.data.equals(part.dataset)).toBe(true);
    }
    // The uncompressed file must arrive in its own transfer syntax, so its bytes were compared above.
    expect(stored.get(ctPart.sopInstanceUid)!.transferSyntax).toBe(EXPLICIT_LE);
  });

  test('Orthanc queries our server', async () => {
    const matches = await orthanc.query('loader', 'Study', { StudyInstanceUID: '' });
    expect(matches).toHaveLength(2);
    expect(JSON.stringify(matches)).toContain('1.2.826.0.1.3680043.10.99.2');
  });

  test('client finds studies on Orthanc', async () => {
    const association = await connect({ ...orthancNode(), contexts: [{ abstractSyntax: STUDY_ROOT_FIND, transferSyntaxes: [EXPLICIT_LE] }] });
    const identifier = encodeDataset(
      [
        [0x00080052, 'CS', 'STUDY'],
        [0x0020000d, 'UI', ''],
      ],
      EXPLICIT_LE,
    );
    const statuses: number[] = [];
    const found: string[] = [];
    for await (const response of association.find({ contextId: association.acceptedContexts[0].id, identifier })) {
      statuses.push(response.status);
      if (response.identifier) found.push(response.identifier.toString('latin1'));
    }
    await association.release();
    expect(statuses.filter((status) => status === 0xff00)).toHaveLength(2);
    expect(statuses[statuses.length - 1]).toBe(0);
    expect(found.some((text) => text.includes(ct.studyInstanceUid!))).toBe(true);
  });

  test('client gets an instance from Orthanc', async () => {
    const association = await connect({
      ...orthancNode(),
      contexts: [
        { abstractSyntax: STUDY_ROOT_GET, transferSyntaxes: [EXPLICIT_LE] },
        { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] },
      ],
      roleSelections: [{ sopClassUid: CT_IMAGE_STORAGE, scuRole: false, scpRole: true }],
    });
    const identifier = encodeDataset(
      [
        [0x00080052, 'CS', 'STUDY'],
        [0x0020000d, 'UI', ct.studyInstanceUid!],
      ],
      EXPLICIT_LE,
    );
    const received: Buffer[] = [];
    const result = await association.get({
      contextId: association.findContext(STUDY_ROOT_GET)!.id,
      identifier,
      onStore: async (ctx) => {
        received.push(await readAll(ctx.data));
        return { status: 0 };
      },
    });
    await association.release();
    expect(result.status).toBe(0);
    expect(result.completed).toBe(1);
    expect(received).toHaveLength(1);
    expect(received[0].equals(ctPart.dataset)).toBe(true);
  });

  test('client moves from Orthanc to our server', async () => {
    stored.clear();
    const association = await connect({ ...orthancNode(), contexts: [{ abstractSyntax: STUDY_ROOT_MOVE, transferSyntaxes: [IMPLICIT_LE] }] });
    const identifier = encodeDataset(
      [
        [0x00080052, 'CS', 'STUDY'],
        [0x0020000d, 'UI', ct.studyInstanceUid!],
      ],
      IMPLICIT_LE,
    );
    const result = await association.move({ contextId: association.acceptedContexts[0].id, destination: 'LOADER', identifier });
    await association.release();
    expect(result.status).toBe(0);
    expect(result.completed).toBe(1);
    expect(stored.get(ctPart.sopInstanceUid)?.data.equals(ctPart.dataset)).toBe(true);
  });
});
