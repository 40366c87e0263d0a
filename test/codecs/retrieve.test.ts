/**
 * C-GET and C-MOVE from `loader serve` to DCMTK peers that accept only
 * uncompressed syntaxes: instances stored compressed arrive decompressed as
 * Explicit VR Little Endian, with the pixels of the reference decode.
 */
import * as fs from 'fs';

import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { TransferSyntax } from '../../src/dicom/uid';
import { readPart10, storeWithOwnSyntax } from '../e2e/helpers';
import {
  associationArgs,
  corpusFile,
  listFiles,
  loaderIsBuilt,
  makeTempDir,
  runDcmtk,
  runLoader,
  startLoader,
  startStorescp,
} from '../support/peers';
import type { CorpusFile, LoaderServer, StorescpHandle } from '../support/peers';
import { parseExplicit, readPixelImage, referenceDecode } from './reference';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

/** Lossless samples, so the received pixels must equal the reference decode exactly. */
const KINDS = ['rle', 'jpeg-ls-lossless', 'jpeg2000-lossless', 'jpeg-lossless'];

describeBuilt('retrieve decompressed', () => {
  let loader: LoaderServer;
  let storescp: StorescpHandle;
  const files = KINDS.map((kind) => corpusFile(kind));

  beforeAll(async () => {
    loader = await startLoader([], { aeTitle: 'LOADER' });
    const store = await storeWithOwnSyntax(loader, files);
    if (store.code !== 0) throw new Error(`storing the samples failed: ${store.stderr.slice(-2000)}`);
    storescp = await startStorescp({ aeTitle: 'PLAINDEST' });
    const add = await runLoader(
      ['nodes', 'add', 'plaindest', '--aet', storescp.aeTitle, '--host', storescp.host, '--port', String(storescp.port)],
      { dirs: loader.dirs },
    );
    if (add.code !== 0) throw new Error(`loader nodes add failed: ${add.stderr}`);
  });

  afterAll(async () => {
    await storescp?.stop();
    await loader?.stop();
  });

  /** Checks that a received file is Explicit VR Little Endian with the reference decode's pixels. */
  async function expectDecompressed(received: string | undefined, file: CorpusFile): Promise<void> {
    expect({ kind: file.kind, received: received !== undefined }).toEqual({ kind: file.kind, received: true });
    const header = readDicomFileHeaderSync(received!);
    expect({ kind: file.kind, syntax: header.transferSyntaxUid }).toEqual({ kind: file.kind, syntax: TransferSyntax.ExplicitVRLittleEndian });
    const arrived = readPixelImage(parseExplicit(fs.readFileSync(received!).subarray(header.datasetOffset)));
    const reference = await referenceDecode(file.absolutePath);
    expect({ kind: file.kind, samePixels: arrived.pixels.equals(reference.pixels) }).toEqual({ kind: file.kind, samePixels: true });
    expect(arrived.dataset.getString(Tags.SOPInstanceUID)).toBe(file.sopInstanceUid);
  }

  test.each(KINDS)('C-GET of %s arrives decompressed', async (kind) => {
    const file = corpusFile(kind);
    const outputDir = makeTempDir('getscu');
    // With no preference option getscu proposes only the uncompressed syntaxes.
    const result = await runDcmtk('getscu', [
      '-v', '-S', '-od', outputDir,
      '-k', 'QueryRetrieveLevel=IMAGE',
      '-k', `StudyInstanceUID=${file.studyInstanceUid}`,
      '-k', `SeriesInstanceUID=${file.seriesInstanceUid}`,
      '-k', `SOPInstanceUID=${file.sopInstanceUid}`,
      ...associationArgs(loader, 'GETSCU'),
    ]);

    expect(result.stderr).toMatch(/Number of Completed Suboperations\s*:\s*1/);
    expect(result.stderr).toMatch(/Number of Failed Suboperations\s*:\s*0/);
    const received = listFiles(outputDir).find((path) => readPart10(path).sopInstanceUid === file.sopInstanceUid);
    await expectDecompressed(received, file);
  });

  test('C-MOVE arrives decompressed', async () => {
    for (const file of files) {
      const result = await runDcmtk('movescu', [
        '-v', '-S', '-aem', storescp.aeTitle,
        '-k', 'QueryRetrieveLevel=IMAGE',
        '-k', `StudyInstanceUID=${file.studyInstanceUid}`,
        '-k', `SeriesInstanceUID=${file.seriesInstanceUid}`,
        '-k', `SOPInstanceUID=${file.sopInstanceUid}`,
        ...associationArgs(loader, 'MOVESCU'),
      ]);
      expect({ kind: file.kind, code: result.code }).toEqual({ kind: file.kind, code: 0 });
      expect(result.stderr).toMatch(/Received Final Move Response \(Success\)/);
    }
    for (const file of files) {
      const received = storescp.receivedFiles().find((path) => readPart10(path).sopInstanceUid === file.sopInstanceUid);
      await expectDecompressed(received, file);
    }
  });
});
