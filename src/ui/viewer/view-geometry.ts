/**
 * Arithmetic of the viewport: window changes by mouse drag, zoom steps, and
 * where the zoomed and panned image lies in the viewport. All sizes and
 * offsets are in screen pixels unless a name says otherwise.
 */
import { fitToViewport } from '../../services/viewer/resample';
import type { VoiWindow } from '../../services/viewer/render';

export interface Size {
  width: number;
  height: number;
}

export interface Rect extends Size {
  x: number;
  y: number;
}

export interface Offset {
  x: number;
  y: number;
}

/** A drag across this many pixels changes the window by its width at the start of the drag. */
export const WINDOW_DRAG_PIXELS_PER_WIDTH = 256;
/** Smallest change of the window per dragged pixel, in modality units, so narrow windows still move. */
const MIN_WINDOW_STEP = 0.1;

export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 16;
/** Factor of one zoom step (one wheel notch or one + or - key press). */
export const ZOOM_STEP = 1.25;

/**
 * Returns the window after dragging by (dx, dy) pixels from the window at the
 * start of the drag: right widens the window, left narrows it, down raises the
 * centre (the image gets darker) and up lowers it. The width stays at least 1.
 */
export function windowAfterDrag(start: VoiWindow, dx: number, dy: number): VoiWindow {
  const step = Math.max(MIN_WINDOW_STEP, Math.abs(start.width) / WINDOW_DRAG_PIXELS_PER_WIDTH);
  return { center: start.center + dy * step, width: Math.max(1, start.width + dx * step) };
}

/** Returns the zoom after `steps` zoom steps (negative to zoom out), within MIN_ZOOM and MAX_ZOOM. */
export function zoomBy(zoom: number, steps: number): number {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom * ZOOM_STEP ** steps));
}

/** Returns the size of the image on screen: fitted into the viewport, keeping its aspect ratio, times the zoom. */
export function displaySize(image: Size, viewport: Size, zoom: number): Size {
  const fitted = fitToViewport(image.width, image.height, viewport.width, viewport.height);
  return { width: Math.max(1, Math.round(fitted.width * zoom)), height: Math.max(1, Math.round(fitted.height * zoom)) };
}

/**
 * Returns the size to request from the render engine: the display size, but
 * never more than the image's own Columns × Rows, because upscaling happens in
 * Qt when the visible part is drawn.
 */
export function renderSize(image: Size, viewport: Size, zoom: number): Size {
  const shown = displaySize(image, viewport, zoom);
  if (shown.width >= image.width || shown.height >= image.height) return { width: image.width, height: image.height };
  return shown;
}

/**
 * Limits a pan offset so that at least `margin` pixels of the image stay in
 * the viewport on each axis.
 */
export function clampPan(pan: Offset, shown: Size, viewport: Size, margin = 32): Offset {
  const limitX = Math.max(0, (viewport.width + shown.width) / 2 - margin);
  const limitY = Math.max(0, (viewport.height + shown.height) / 2 - margin);
  return { x: Math.min(limitX, Math.max(-limitX, pan.x)), y: Math.min(limitY, Math.max(-limitY, pan.y)) };
}

/** The part of a rendered image to draw and where it goes in the viewport. */
export interface VisiblePart {
  /** Rectangle in the rendered image's pixels. */
  source: Rect;
  /** Rectangle in viewport pixels. */
  target: Rect;
}

/**
 * Returns the visible part of an image shown at `shown` size, centred in the
 * viewport and moved by `pan`, when the image was rendered at `rendered`
 * size. Returns undefined when no pixel of it is inside the viewport.
 */
export function visiblePart(rendered: Size, shown: Size, viewport: Size, pan: Offset): VisiblePart | undefined {
  const left = Math.round((viewport.width - shown.width) / 2 + pan.x);
  const top = Math.round((viewport.height - shown.height) / 2 + pan.y);
  const x0 = Math.max(0, -left);
  const y0 = Math.max(0, -top);
  const x1 = Math.min(shown.width, viewport.width - left);
  const y1 = Math.min(shown.height, viewport.height - top);
  if (x1 <= x0 || y1 <= y0) return undefined;

  const scaleX = rendered.width / shown.width;
  const scaleY = rendered.height / shown.height;
  const sourceX = Math.floor(x0 * scaleX);
  const sourceY = Math.floor(y0 * scaleY);
  const source = {
    x: sourceX,
    y: sourceY,
    width: Math.max(1, Math.min(rendered.width, Math.ceil(x1 * scaleX)) - sourceX),
    height: Math.max(1, Math.min(rendered.height, Math.ceil(y1 * scaleY)) - sourceY),
  };
  return { source, target: { x: left + x0, y: top + y0, width: x1 - x0, height: y1 - y0 } };
}
