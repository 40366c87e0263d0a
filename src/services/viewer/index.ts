/** Image rendering engine of the study viewer: frame source, rendering, worker-backed viewer and header summary. */
export { ImageDecodeError, describeSyntax } from './errors';
export { FrameSource } from './frame-source';
export type { NativeFrame } from './frame-source';
export { summarizeHeader } from './header-summary';
export type { HeaderSummary } from './header-summary';
export { ImageAttributeError, readViewerImageInfo } from './image-info';
export type { PaletteChannel, PaletteColorLut, ViewerImageInfo, VoiLutFunction, WindowValues } from './image-info';
export { RenderPipeline } from './pipeline';
export type { FrameRenderRequest, FrameRenderResult } from './pipeline';
export { applyVoi, minMaxWindow, renderFrame, RenderError, VOI_PRESETS } from './render';
export type { RenderedImage, RenderOptions, VoiPresetName, VoiWindow, WindowSource } from './render';
export { fitToViewport, resampleRgba } from './resample';
export type { ResampleMethod } from './resample';
export { ImageViewer, RenderCancelledError } from './viewer';
export type { ImageViewerOptions, ViewerRenderRequest } from './viewer';
