/**
 * The render pipeline that the render worker runs: frame source cache, frame
 * read, rendering and resampling. It runs in the calling thread; ImageViewer
 * runs it in worker threads.
 */
import { readDicomFileHeader } from '../../dicom/file-reader';
import { ImageDecodeError, reasonOf } from './errors';
import { FrameSource } from './frame-source';
import { summarizeHeader } from './header-summary';
import type { HeaderSummary } from './header-summary';
import type { ViewerImageInfo } from './image-info';
import { renderFrame } from './render';
import type { RenderedImage, RenderOptions } from './render';
import { fitToViewport, resampleRgba } from './resample';
import type { ResampleMethod } from './resample';

export interface FrameRenderRequest extends RenderOptions {
  /** Path of the instance file in the local archive. */
  path: string;
  /** Zero-based frame index; default 0. */
  frame?: number;
  /** Viewport to fit the image into, keeping its aspect ratio; without it the image keeps Columns × Rows. */
  size?: { width: number; height: number; method?: ResampleMethod };
}

export interface FrameRenderResult {
  /** width × height × 4 bytes, R G B A (QImage Format_RGBA8888). */
  rgba: Uint8Array;
  width: number;
  height: number;
  frame: number;
  info: ViewerImageInfo;
  transferSyntaxUid: string;
  /** Photometric Interpretation of the decoded frame, e.g. RGB for a YBR_FULL_422 JPEG. */
  decodedPhotometricInterpretation: string;
  /** The frame's codestream was lossy as far as the decoder can tell. */
  lossy: boolean;
  window?: RenderedImage['window'];
}

/** Open frame sources kept per worker, so scrolling a clip does not reopen the file or locate its frames again. */
const MAX_OPEN_SOURCES = 8;

export class RenderPipeline {
  private readonly sources = new Map<string, FrameSource>();

  /** Reads, renders and resamples one frame. Throws ImageDecodeError naming the file, transfer syntax and reason. */
  async render(request: FrameRenderRequest): Promise<FrameRenderResult> {
    const source = await this.openSource(request.path);
    const frameIndex = request.frame ?? 0;
    const frame = await source.readFrame(frameIndex);
    let rendered: RenderedImage;
    try {
      rendered = renderFrame(frame, source.info, request);
    } catch (error) {
      throw new ImageDecodeError(source.path, source.transferSyntaxUid, reasonOf(error), frameIndex);
    }
    let { rgba, width, height } = rendered;
    if (request.size) {
      const fitted = fitToViewport(width, height, request.size.width, request.size.height);
      rgba = resampleRgba(rgba, width, height, fitted.width, fitted.height, request.size.method);
      width = fitted.width;
      height = fitted.height;
    }
    return {
      rgba,
      width,
      height,
      frame: frameIndex,
      info: source.info,
      transferSyntaxUid: source.transferSyntaxUid,
      decodedPhotometricInterpretation: frame.photometricInterpretation,
      lossy: frame.lossy,
      window: rendered.window,
    };
  }

  /** Reads the header summary of a file. Throws ImageDecodeError when the header cannot be read. */
  async readHeader(path: string): Promise<HeaderSummary> {
    try {
      return summarizeHeader(await readDicomFileHeader(path));
    } catch (error) {
      throw new ImageDecodeError(path, undefined, reasonOf(error, path));
    }
  }

  /** Closes every open file. */
  async close(): Promise<void> {
    const sources = [...this.sources.values()];
    this.sources.clear();
    await Promise.all(sources.map((source) => source.close()));
  }

  private async openSource(path: string): Promise<FrameSource> {
    const cached = this.sources.get(path);
    if (cached) {
      // Re-inserting moves the entry to the end, so the map's first key is the least recently used.
      this.sources.delete(path);
      this.sources.set(path, cached);
      return cached;
    }
    const source = await FrameSource.open(path);
    this.sources.set(path, source);
    if (this.sources.size > MAX_OPEN_SOURCES) {
      const [oldestPath, oldest] = this.sources.entries().next().value as [string, FrameSource];
      this.sources.delete(oldestPath);
      await oldest.close();
    }
    return source;
  }
}
