/**
 * Compressed studies between dcmqrscp and the local archive. dcmqrscp 3.6.7
 * cannot convert RLE Lossless to an uncompressed syntax, so a C-GET of an RLE
 * study ends with status A702 and the instance in Failed SOP Instance UID
 * List, which `loader migrate` must not retry as a busy node. The other way,
 * a dcmqrscp that accepts only uncompressed syntaxes gets the RLE instance
 * decompressed, and the report notes that.
 */
import { corpusPath, createLoaderDirs, loaderIsBuilt, runLoader, startDcmqrscp, storeFiles } from '../support/peers';
import type { DcmqrscpHandle } from '../support/peers';
import { LOADER_AE, configure, registerNode } from './helpers';

const describeBuilt = loaderIsBuilt() ? describe : describe.skip;

interface Report {
  studies: { state: string; attempts: number; lastError?: string }[];
  notes: string[];
}

describeBuilt('compressed study migration', () => {
  const dirs = createLoaderDirs('compressed-study');
  const rle = corpusPath('samples/mr/mr-small-rle.dcm');
  let rleSource: DcmqrscpHandle;
  let uncompressedOnly: DcmqrscpHandle;

  beforeAll(async () => {
    rleSource = await startDcmqrscp({ aeTitle: 'RLESOURCE', acceptCompressed: true });
    uncompressedOnly = await startDcmqrscp({ aeTitle: 'PLAINDEST' });
    const stored = await storeFiles(rleSource, [rle.absolutePath]);
    if (stored.code !== 0) throw new Error(`storescu failed: ${stored.stderr}`);
    await registerNode(dirs, 'rlesource', rleSource);
    await registerNode(dirs, 'plaindest', uncompressedOnly);
    await configure(dirs, 'pacs.aeTitle', LOADER_AE);
  }, 60_000);

  afterAll(async () => {
    await rleSource.stop();
    await uncompressedOnly.stop();
  });

  test('C-GET failed list is not retried', async () => {
    const result = await runLoader(['migrate', 'rlesource', 'local', '--study-uid', rle.studyInstanceUid!, '--retries', '3', '--json'], { dirs });
    const study = result.json<Report>().studies[0];

    expect(result.code).toBe(1);
    expect(study.state).toBe('failed');
    expect(study.attempts).toBe(1);
    expect(study.lastError).toContain('failed with status 0xA702');
    expect(study.lastError).toContain('the node could not send 1 instance that it lists in Failed SOP Instance UID List (0008,0058), and sent 0');
    expect(study.lastError).toContain("The node's own log gives the reason");
    expect(study.lastError).not.toContain('busy');
    expect(study.lastError).not.toContain('gave up after');
    expect(result.stderr).not.toContain('retrying');
    expect(result.stderr.match(/C-GET-RQ finished with status 0xA702/g)).toHaveLength(1);
  }, 60_000);

  test('dry run prints would-move note once', async () => {
    const result = await runLoader(['migrate', 'rlesource', 'plaindest', '--study-uid', rle.studyInstanceUid!, '--dry-run', '--job', 'fresh'], { dirs });
    const output = result.stdout + result.stderr;

    expect(result.code).toBe(0);
    expect(output.match(/"would move" is not checked/g)).toHaveLength(1);
  }, 60_000);

  test('decompressed send is reported', async () => {
    expect((await runLoader(['scan', '--import', rle.absolutePath], { dirs })).code).toBe(0);

    const result = await runLoader(['migrate', 'local', 'plaindest', '--study-uid', rle.studyInstanceUid!], { dirs });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'note: 1 instance was sent decompressed, because plaindest did not accept RLE Lossless, the transfer syntax they are stored in, ' +
        'and accepted Explicit VR Little Endian, Implicit VR Little Endian for them',
    );
    expect(result.stderr.match(/Instances sent decompressed because the destination did not accept their stored transfer syntax/g)).toHaveLength(1);
    expect(result.stderr).toMatch(/instances=1 stored="RLE Lossless"/);
  }, 60_000);
});
