/**
 * Log lines of the PACS server's C-STORE handler, as an administrator reads
 * them: a peer that leaves mid-transfer is a warning, and a failure keeps its
 * whole reason in the log even where the DIMSE Error Comment is cut.
 */
import { PassThrough } from 'node:stream';

import { AssociationClosedError } from '../../src/dicom/network';
import type { StoreRequestContext } from '../../src/dicom/network';
import { LocalArchive } from '../../src/services/archive';
import { createLogger, setLogSink } from '../../src/services/logger';
import { createStoreHandler } from '../../src/services/pacs-server/store-service';
import { makeTempDir } from '../support/process';

const SOP_INSTANCE_UID = '1.2.826.0.1.3680043.8.498.12345';

function storeContext(data: PassThrough): StoreRequestContext {
  return {
    association: {
      id: 'LOADER-1',
      callingAeTitle: 'SENDER',
      calledAeTitle: 'LOADER',
      remoteAddress: '127.0.0.1',
      remotePort: 40000,
      acceptedContexts: [],
      roleSelections: [],
      peerMaxPduLength: 16384,
    },
    presentationContext: { id: 1, abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntax: '1.2.840.10008.1.2.1' },
    command: new Map(),
    messageId: 1,
    signal: new AbortController().signal,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.7',
    sopInstanceUid: SOP_INSTANCE_UID,
    priority: 0,
    data,
  };
}

async function storeAndCollectLog(feed: (data: PassThrough) => void): Promise<{ lines: string[]; errorComment?: string }> {
  const archive = LocalArchive.open(makeTempDir('store-log'));
  const lines: string[] = [];
  const previousSink = setLogSink((line) => lines.push(line));
  try {
    const data = new PassThrough();
    const handled = createStoreHandler(archive, createLogger('loader.server.store'))(storeContext(data));
    feed(data);
    const result = await handled;
    return { lines, errorComment: result.errorComment };
  } finally {
    setLogSink(previousSink);
    archive.close();
  }
}

describe('C-STORE handler log', () => {
  test('peer leaving mid-transfer is a warning', async () => {
    const { lines } = await storeAndCollectLog((data) => {
      data.write(Buffer.alloc(64));
      data.destroy(new AssociationClosedError('Association ended before the data set was complete: peer aborted', 'aborted'));
    });
    const storeLines = lines.filter((line) => line.includes('loader.server.store'));

    expect(storeLines).toHaveLength(1);
    expect(storeLines[0]).toMatch(/ WARN  loader\.server\.store: association ended before the data set was complete; nothing stored /);
    expect(storeLines[0]).toContain('callingAeTitle=SENDER');
    expect(storeLines[0]).toContain('calledAeTitle=LOADER');
    expect(storeLines[0]).toContain(`sopInstanceUid=${SOP_INSTANCE_UID}`);
  });

  test('failure reason kept whole', async () => {
    const { lines, errorComment } = await storeAndCollectLog((data) => data.end(Buffer.from('not a data set at all')));
    const failure = lines.find((line) => line.includes('C-STORE failed'));

    expect(failure).toBeDefined();
    expect(errorComment).toBeDefined();
    expect(errorComment!.length).toBeGreaterThan(64);
    expect(failure).toContain(JSON.stringify(errorComment));
  });
});
