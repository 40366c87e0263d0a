/**
 * The viewport of the study viewer: a QLabel that shows one frame rendered by
 * the engine's workers, with the window, zoom and pan that the user sets with
 * the mouse. The UI thread only crops, scales and draws the rendered RGBA
 * image in Qt; reading, decoding and windowing run in the ImageViewer workers.
 *
 * Load this module only after the qode shim (see qt-runtime.ts).
 */
import {
  AlignmentFlag,
  AspectRatioMode,
  FocusPolicy,
  GlobalColor,
  ImageConversionFlag,
  KeyboardModifier,
  MouseButton,
  QImage,
  QImageFormat,
  QLabel,
  QMouseEvent,
  QPainter,
  QPixmap,
  QSizePolicyPolicy,
  QWheelEvent,
  TransformationMode,
  WidgetEventTypes,
} from '@nodegui/nodegui';

import { createLogger } from '../../services/logger';
import type { FrameRenderResult } from '../../services/viewer/pipeline';
import type { VoiPresetName, VoiWindow } from '../../services/viewer/render';
import { RenderCancelledError } from '../../services/viewer/viewer';
import type { ImageViewer } from '../../services/viewer/viewer';
import { clampPan, displaySize, renderSize, visiblePart, windowAfterDrag, zoomBy } from './view-geometry';
import type { Offset, Size } from './view-geometry';

const log = createLogger('loader.viewer.ui');

/** Least time between two render requests, in milliseconds; a drag or fast scrolling renders at most this often. */
export const RENDER_INTERVAL_MS = 40;
/** Render channel of the viewport; each request supersedes the previous one still queued or running. */
const VIEWPORT_CHANNEL = 'viewport';
/** Angle of one wheel notch in angleDelta(), in eighths of a degree (Qt's QWheelEvent convention). */
const WHEEL_NOTCH = 120;

/** Window requested for greyscale images: the file's, a preset, or one set by dragging. */
export type WindowMode = { kind: 'file' } | { kind: 'preset'; name: VoiPresetName } | { kind: 'custom'; window: VoiWindow };

export interface ViewportCallbacks {
  /** Called after a render, an error, or a change of window or zoom, so the window can update its status texts. */
  onChange: () => void;
  /** Called for a wheel turn without Ctrl, in notches: positive when turned towards the user. */
  onScroll: (notches: number) => void;
}

/** The rendered frame kept for drawing. Qt's QImage.fromBuffer copies the bytes, so the Buffer only needs to live until compose() runs again. */
interface RenderedFrame {
  rgba: Buffer;
  width: number;
  height: number;
  result: FrameRenderResult;
}

type Drag = { kind: 'window'; x: number; y: number; start: VoiWindow } | { kind: 'pan'; x: number; y: number; start: Offset };

export class Viewport {
  readonly label = new QLabel();
  private image: { path: string; frame: number } | undefined;
  private mode: WindowMode = { kind: 'file' };
  private zoom = 1;
  private pan: Offset = { x: 0, y: 0 };
  /** Columns × Rows of the image, known after its first render. */
  private imageSize: Size | undefined;
  private rendered: RenderedFrame | undefined;
  private pixmap: QPixmap | undefined;
  private message: string | undefined;
  private drag: Drag | undefined;
  private wheelRemainder = 0;
  private renderTimer: NodeJS.Timeout | undefined;
  private lastRenderAt = 0;
  private requestSerial = 0;
  private closed = false;

  constructor(
    private readonly engine: ImageViewer,
    private readonly callbacks: ViewportCallbacks,
  ) {
    this.label.setObjectName('viewer-viewport');
    this.label.setAlignment(AlignmentFlag.AlignCenter);
    this.label.setWordWrap(true);
    // Ignored: the pixmap must not change the label's size hint, or every render would resize the layout.
    this.label.setSizePolicy(QSizePolicyPolicy.Ignored, QSizePolicyPolicy.Ignored);
    this.label.setMinimumSize(200, 200);
    this.label.setFocusPolicy(FocusPolicy.StrongFocus);
    this.label.addEventListener(WidgetEventTypes.MouseButtonPress, (event) => this.onPress(new QMouseEvent(event!)));
    this.label.addEventListener(WidgetEventTypes.MouseMove, (event) => this.onMove(new QMouseEvent(event!)));
    this.label.addEventListener(WidgetEventTypes.MouseButtonRelease, () => {
      this.drag = undefined;
    });
    this.label.addEventListener(WidgetEventTypes.Wheel, (event) => this.onWheel(new QWheelEvent(event!)));
    this.label.addEventListener(WidgetEventTypes.Resize, () => {
      this.compose();
      this.requestRender();
    });
  }

  /** The window that the last render applied, or undefined for colour images and before the first render. */
  get appliedWindow(): FrameRenderResult['window'] {
    return this.rendered?.result.window;
  }

  get windowMode(): WindowMode {
    return this.mode;
  }

  get zoomFactor(): number {
    return this.zoom;
  }

  /** True while the viewport shows a rendered frame, not a message. */
  get showsImage(): boolean {
    return this.rendered !== undefined && this.message === undefined;
  }

  /** The text shown in place of the image (an engine error), if any. */
  get shownMessage(): string | undefined {
    return this.message;
  }

  /** Shows a frame, keeping the window, zoom and pan; `newImage` resets them for another series. */
  show(path: string, frame: number, newImage = false): void {
    if (newImage) {
      this.mode = { kind: 'file' };
      this.zoom = 1;
      this.pan = { x: 0, y: 0 };
      this.imageSize = undefined;
    }
    this.image = { path, frame };
    this.requestRender();
  }

  /** Shows a text in place of the image, such as the error of a file whose header cannot be read. */
  showMessage(text: string): void {
    this.image = undefined;
    this.rendered = undefined;
    this.message = text;
    this.pixmap = undefined;
    this.label.clear();
    this.label.setText(text);
    this.callbacks.onChange();
  }

  setWindowMode(mode: WindowMode): void {
    this.mode = mode;
    this.requestRender();
    this.callbacks.onChange();
  }

  zoomSteps(steps: number): void {
    this.zoom = zoomBy(this.zoom, steps);
    this.compose();
    this.requestRender();
    this.callbacks.onChange();
  }

  panBy(dx: number, dy: number): void {
    this.pan = { x: this.pan.x + dx, y: this.pan.y + dy };
    this.compose();
  }

  /** Stops rendering; requests still running end as RenderCancelledError when the engine closes. */
  close(): void {
    this.closed = true;
    clearTimeout(this.renderTimer);
  }

  private viewportSize(): Size {
    const size = this.label.size();
    return { width: Math.max(1, size.width()), height: Math.max(1, size.height()) };
  }

  /** Renders at once when the last request is RENDER_INTERVAL_MS old, otherwise when it is; repeated calls in between coalesce. */
  private requestRender(): void {
    if (this.closed || this.renderTimer !== undefined) return;
    const wait = Math.max(0, this.lastRenderAt + RENDER_INTERVAL_MS - Date.now());
    this.renderTimer = setTimeout(() => {
      this.renderTimer = undefined;
      void this.render();
    }, wait);
  }

  private async render(): Promise<void> {
    const image = this.image;
    if (!image || this.closed) return;
    this.lastRenderAt = Date.now();
    const serial = ++this.requestSerial;
    const viewport = this.viewportSize();
    const size = this.imageSize ? renderSize(this.imageSize, viewport, this.zoom) : viewport;
    const windowOptions = this.mode.kind === 'preset' ? { preset: this.mode.name } : this.mode.kind === 'custom' ? { window: this.mode.window } : {};
    try {
      const result = await this.engine.renderFrame({ path: image.path, frame: image.frame, size, channel: VIEWPORT_CHANNEL, ...windowOptions });
      if (serial !== this.requestSerial || this.closed) return;
      const nativeSize = { width: result.info.columns, height: result.info.rows };
      const sizeChanged = this.imageSize?.width !== nativeSize.width || this.imageSize?.height !== nativeSize.height;
      this.imageSize = nativeSize;
      this.message = undefined;
      this.rendered = {
        rgba: Buffer.from(result.rgba.buffer, result.rgba.byteOffset, result.rgba.byteLength),
        width: result.width,
        height: result.height,
        result,
      };
      this.compose();
      this.callbacks.onChange();
      // The first render of an image is fitted to the viewport; with a zoom the sharper size is only known now.
      const wanted = renderSize(nativeSize, this.viewportSize(), this.zoom);
      if (sizeChanged && (wanted.width !== result.width || wanted.height !== result.height)) this.requestRender();
    } catch (error) {
      if (error instanceof RenderCancelledError || serial !== this.requestSerial || this.closed) return;
      const message = error instanceof Error ? error.message : String(error);
      log.warn('viewer could not render a frame', { path: image.path, frame: image.frame, error: message });
      this.showMessage(message);
      // showMessage forgets the image; keep it, so a window change or resize tries again.
      this.image = image;
    }
  }

  /** Draws the visible part of the rendered frame, zoomed and panned, into a pixmap of the viewport's size. */
  private compose(): void {
    const rendered = this.rendered;
    if (!rendered || !this.imageSize || this.closed) return;
    const viewport = this.viewportSize();
    const shown = displaySize(this.imageSize, viewport, this.zoom);
    this.pan = clampPan(this.pan, shown, viewport);
    const part = visiblePart(rendered, shown, viewport, this.pan);

    const canvas = new QImage(viewport.width, viewport.height, QImageFormat.RGBA8888);
    canvas.fill(GlobalColor.black);
    if (part) {
      const source = QImage.fromBuffer(rendered.rgba, rendered.width, rendered.height, QImageFormat.RGBA8888);
      const piece = source
        .copy(part.source.x, part.source.y, part.source.width, part.source.height)
        .scaled(part.target.width, part.target.height, AspectRatioMode.IgnoreAspectRatio, TransformationMode.SmoothTransformation);
      const painter = new QPainter(canvas);
      painter.drawImage(part.target.x, part.target.y, piece);
      painter.end();
    }
    this.pixmap = QPixmap.fromImage(canvas, ImageConversionFlag.AutoColor);
    this.label.setPixmap(this.pixmap);
  }

  private onPress(event: QMouseEvent): void {
    const button = event.button();
    if (button === MouseButton.MiddleButton) {
      this.drag = { kind: 'pan', x: event.x(), y: event.y(), start: this.pan };
    } else if ((button === MouseButton.LeftButton || button === MouseButton.RightButton) && this.rendered) {
      // Colour images have no window, so dragging over them does nothing.
      const applied = this.appliedWindow;
      const start = this.mode.kind === 'custom' ? this.mode.window : applied;
      if (start) this.drag = { kind: 'window', x: event.x(), y: event.y(), start: { center: start.center, width: start.width } };
    }
  }

  private onMove(event: QMouseEvent): void {
    const drag = this.drag;
    if (!drag) return;
    const dx = event.x() - drag.x;
    const dy = event.y() - drag.y;
    if (drag.kind === 'pan') {
      this.pan = { x: drag.start.x + dx, y: drag.start.y + dy };
      this.compose();
      return;
    }
    this.mode = { kind: 'custom', window: windowAfterDrag(drag.start, dx, dy) };
    this.requestRender();
    this.callbacks.onChange();
  }

  private onWheel(event: QWheelEvent): void {
    // Touchpads send fractions of a notch; they add up until a whole notch is reached.
    this.wheelRemainder += event.angleDelta().y;
    const notches = Math.trunc(this.wheelRemainder / WHEEL_NOTCH);
    if (notches === 0) return;
    this.wheelRemainder -= notches * WHEEL_NOTCH;
    if ((event.modifiers() & KeyboardModifier.ControlModifier) !== 0) this.zoomSteps(notches);
    else this.callbacks.onScroll(-notches);
  }
}
