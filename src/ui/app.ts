/**
 * Opens the desktop window. Call checkGuiAvailability() first: this module
 * loads the qode shim and then NodeGui, which fails without a display or
 * without the native parts built by scripts/build-gui.sh.
 */
import type { LegacyCharacterSet } from '../dicom/charset';
import type { GuiPaths } from './qt-runtime';
import { loadQodeShim, startEventPump } from './qt-runtime';
import { startWidgetDump, testHooksFile } from './test-hooks';
import { createLogger } from '../services/logger';
import { AppController } from './controllers/app-controller';

const log = createLogger('loader.ui');

export interface OpenWindowOptions {
  paths: GuiPaths;
  configDir?: string;
  archiveRoot: string;
  /** --legacy-charset of `loader start`; default: pacs.legacyCharacterSet from the settings. */
  legacyCharacterSet?: LegacyCharacterSet;
}

/** Opens the main window; resolves when the user closes it and the server and archives are closed. */
export async function openWindow(options: OpenWindowOptions): Promise<void> {
  loadQodeShim(options.paths);
  // The window draws only widgets, so it needs no OpenGL. NodeGui 0.74 sets Qt::AA_ShareOpenGLContexts, so Qt
  // creates a shared GL context at start, which loads the Mesa driver. Under Xvfb (llvmpipe) that mapped libLLVM
  // and added 44 MiB of RSS (bench/window.js). A user's own QT_XCB_GL_INTEGRATION still applies.
  // NOTE: Qt then logs "Cannot create platform OpenGL context, neither GLX nor EGL are enabled" once; it is harmless.
  process.env.QT_XCB_GL_INTEGRATION ??= 'none';
  // Required only now: these modules load the NodeGui addon, which needs the shim above.
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { QApplication } = require('@nodegui/nodegui') as typeof import('@nodegui/nodegui');
  const { Renderer } = require('@nodegui/react-nodegui') as typeof import('@nodegui/react-nodegui');
  const React = require('react') as typeof import('react');
  const { MainWindow } = require('./components/main-window') as typeof import('./components/main-window');
  /* eslint-enable @typescript-eslint/no-var-requires */

  const application = QApplication.instance();
  application.setQuitOnLastWindowClosed(false);
  const stopPump = startEventPump(() => application.processEvents());
  const controller = new AppController({
    configDir: options.configDir,
    archiveRoot: options.archiveRoot,
    legacyCharacterSet: options.legacyCharacterSet,
  });
  log.info('desktop window opening', { archive: options.archiveRoot, settings: controller.settings.path });
  const hooksFile = testHooksFile();
  const stopDump = hooksFile === undefined ? undefined : startWidgetDump(hooksFile);
  if (hooksFile !== undefined) log.info('test hooks on: writing widget geometry', { file: hooksFile });

  await new Promise<void>((resolve) => {
    Renderer.render(React.createElement(MainWindow, { controller, onClosed: resolve }));
    // A stop signal closes as the window's close button does: the server finishes its stores, and the archive closes.
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn('second stop signal: exiting without waiting', { signal });
        process.exit(130);
      }
      stopping = true;
      log.info('stop requested', { signal });
      void controller.close().finally(resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  stopDump?.();
  stopPump();
  log.info('desktop window closed');
}
