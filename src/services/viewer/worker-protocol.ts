/** Messages between ImageViewer and its render workers. */
import type { HeaderSummary } from './header-summary';
import type { FrameRenderRequest, FrameRenderResult } from './pipeline';

export type WorkerRequest = { id: number; type: 'render'; request: FrameRenderRequest } | { id: number; type: 'header'; path: string };

/** An ImageDecodeError as plain data, because errors lose their fields when posted between threads. */
export interface WorkerError {
  path: string;
  transferSyntaxUid?: string;
  reason: string;
  frameIndex?: number;
}

export type WorkerReply =
  | { id: number; ok: true; result: FrameRenderResult }
  | { id: number; ok: true; header: HeaderSummary }
  | { id: number; ok: false; error: WorkerError };
