/**
 * Entry points of the study viewer window.
 *
 * openStudyViewer opens a viewer in a process where Qt already runs (the main
 * window calls it for a study of the local archive). runStudyViewer is the
 * whole program of `loader view`: it loads the qode shim and NodeGui, pumps
 * Qt's events and waits until the viewer closes.
 *
 * This module must not import @nodegui/nodegui at the top level: importing it
 * loads the addon, which fails until the shim is loaded (see qt-runtime.ts).
 */
import type { LegacyCharacterSet } from '../../dicom/charset';
import type { Language, Theme } from '../../services/settings/settings-types';
import { createLogger } from '../../services/logger';
import { ImageViewer } from '../../services/viewer/viewer';
import type { GuiPaths } from '../qt-runtime';
import { loadQodeShim, startEventPump } from '../qt-runtime';
import { seriesFromArchive, seriesFromFiles } from './study-source';
import type { ViewerSeries } from './study-source';

export { StudyNotFoundError } from './study-source';

const log = createLogger('loader.viewer.ui');

/** Render worker threads of one viewer: one for the viewport while the other reads headers and thumbnails. */
const VIEWER_WORKERS = 2;

/** A study of the local archive, or files given by path. */
export type StudyViewerSource = { archiveRoot: string; legacyCharacterSet: LegacyCharacterSet; studyInstanceUid: string } | { files: string[] };

export type StudyViewerOptions = StudyViewerSource & {
  /** Interface language, English by default. */
  language?: Language;
  /** Interface theme, light by default. */
  theme?: Theme;
};

export interface StudyViewerHandle {
  /** Resolves after the window closed and its render workers stopped. */
  closed: Promise<void>;
  close(): void;
}

/**
 * Opens a viewer window for a study of the local archive or for files. Qt
 * must already run in this process (NodeGui loaded and its events pumped).
 * Rejects with StudyNotFoundError when the archive has no instance of the study.
 */
export async function openStudyViewer(options: StudyViewerOptions): Promise<StudyViewerHandle> {
  const engine = new ImageViewer({ workers: VIEWER_WORKERS });
  let series: ViewerSeries[];
  try {
    series =
      'files' in options
        ? await seriesFromFiles(options.files, (file) => engine.readHeader(file))
        : await seriesFromArchive(options.archiveRoot, options.studyInstanceUid, options.legacyCharacterSet);
  } catch (error) {
    await engine.close();
    throw error;
  }
  // Required only now: the window module loads the NodeGui addon.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { StudyViewerWindow } = require('./viewer-window') as typeof import('./viewer-window');
  const window = new StudyViewerWindow({ series, engine, language: options.language ?? 'en', theme: options.theme ?? 'light' });
  log.info('study viewer opening', {
    study: 'studyInstanceUid' in options ? options.studyInstanceUid : undefined,
    files: 'files' in options ? options.files.length : undefined,
    series: series.length,
  });
  window.show();
  return { closed: window.closed, close: () => window.close() };
}

/**
 * Runs `loader view`: boots Qt, opens the viewer and resolves when the user
 * closed it. Call checkGuiAvailability() first for the paths.
 */
export async function runStudyViewer(paths: GuiPaths, options: StudyViewerOptions): Promise<void> {
  loadQodeShim(paths);
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { QApplication } = require('@nodegui/nodegui') as typeof import('@nodegui/nodegui');
  const { startWidgetDump, testHooksFile } = require('../test-hooks') as typeof import('../test-hooks');
  /* eslint-enable @typescript-eslint/no-var-requires */
  const application = QApplication.instance();
  application.setQuitOnLastWindowClosed(false);
  const stopPump = startEventPump(() => application.processEvents());
  const hooksFile = testHooksFile();
  const stopDump = hooksFile === undefined ? undefined : startWidgetDump(hooksFile);
  if (hooksFile !== undefined) log.info('test hooks on: writing widget geometry', { file: hooksFile });
  try {
    const viewer = await openStudyViewer(options);
    await viewer.closed;
  } finally {
    stopDump?.();
    stopPump();
  }
}
