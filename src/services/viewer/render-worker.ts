/**
 * Entry of a render worker thread: runs RenderPipeline requests posted by
 * ImageViewer, one at a time, and posts back results or errors. The RGBA
 * buffer is transferred, not copied.
 */
import { parentPort } from 'node:worker_threads';

import { ImageDecodeError, reasonOf } from './errors';
import { RenderPipeline } from './pipeline';
import type { WorkerReply, WorkerRequest } from './worker-protocol';

const pipeline = new RenderPipeline();

async function handle(message: WorkerRequest): Promise<WorkerReply> {
  try {
    if (message.type === 'header') return { id: message.id, ok: true, header: await pipeline.readHeader(message.path) };
    return { id: message.id, ok: true, result: await pipeline.render(message.request) };
  } catch (error) {
    const path = message.type === 'header' ? message.path : message.request.path;
    if (error instanceof ImageDecodeError) {
      return {
        id: message.id,
        ok: false,
        error: { path: error.path, transferSyntaxUid: error.transferSyntaxUid, reason: error.reason, frameIndex: error.frameIndex },
      };
    }
    return { id: message.id, ok: false, error: { path, reason: `unexpected error: ${reasonOf(error)}` } };
  }
}

if (!parentPort) throw new Error('render-worker must run in a worker thread; use ImageViewer to start it');
const port = parentPort;
port.on('message', (message: WorkerRequest) => {
  void handle(message).then((reply) => {
    if (reply.ok && 'result' in reply) port.postMessage(reply, [reply.result.rgba.buffer as ArrayBuffer]);
    else port.postMessage(reply);
  });
});
