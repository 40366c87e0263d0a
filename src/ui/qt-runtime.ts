/**
 * Loads NodeGui in plain Node.js. NodeGui's addon expects the symbols of its
 * patched Node.js binary "qode"; the qode shim (native/qode-shim) defines
 * them and must be loaded with RTLD_GLOBAL before the addon. Qt's events are
 * then processed from a Node timer, because no qode run loop drives them.
 *
 * This module must not import @nodegui/nodegui at the top level: importing it
 * loads the addon, which fails until the shim is loaded.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Interval of Qt event processing, in milliseconds. */
const EVENT_PUMP_INTERVAL_MS = 10;

export interface GuiPaths {
  shim: string;
  addon: string;
}

export type GuiAvailability = { available: true; paths: GuiPaths } | { available: false; reason: string };

/**
 * Finds the repository (or installed package) root by walking up from this
 * file, which lies in src/ui when run by ts-jest and in dist/ when bundled.
 */
function findPackageRoot(start: string): string | undefined {
  let folder = start;
  for (;;) {
    if (fs.existsSync(path.join(folder, 'package.json')) && fs.existsSync(path.join(folder, 'node_modules'))) return folder;
    const parent = path.dirname(folder);
    if (parent === folder) return undefined;
    folder = parent;
  }
}

export function guiPaths(root = findPackageRoot(__dirname)): GuiPaths | undefined {
  if (root === undefined) return undefined;
  return {
    shim: process.env.LOADER_QODE_SHIM ?? path.join(root, 'native', 'qode-shim', 'build', 'qode_shim.node'),
    addon: path.join(root, 'node_modules', '@nodegui', 'nodegui', 'build', 'Release', 'nodegui_core.node'),
  };
}

/** Returns the path of a file in the package's assets folder, or undefined when the package root is not found. */
export function assetPath(name: string, root = findPackageRoot(__dirname)): string | undefined {
  return root === undefined ? undefined : path.join(root, 'assets', name);
}

/** Tells whether a display is set and the native parts are built; the reason names the fix when not. */
export function checkGuiAvailability(env: NodeJS.ProcessEnv = process.env): GuiAvailability {
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY && env.QT_QPA_PLATFORM !== 'offscreen') {
    return { available: false, reason: 'no display: DISPLAY and WAYLAND_DISPLAY are not set' };
  }
  const paths = guiPaths();
  if (paths === undefined) return { available: false, reason: `cannot find the package root above ${__dirname}` };
  for (const file of [paths.addon, paths.shim]) {
    if (!fs.existsSync(file)) return { available: false, reason: `${file} is missing; build it with scripts/build-gui.sh` };
  }
  return { available: true, paths };
}

let loaded = false;

/** Loads the qode shim into the global symbol scope, once per process; call it before requiring @nodegui/nodegui. */
export function loadQodeShim(paths: GuiPaths): void {
  if (loaded) return;
  const module = { exports: {} };
  process.dlopen(module, paths.shim, os.constants.dlopen.RTLD_NOW | os.constants.dlopen.RTLD_GLOBAL);
  loaded = true;
}

/**
 * Processes Qt events every EVENT_PUMP_INTERVAL_MS until the returned
 * function is called. The interval keeps Node's event loop alive while the
 * window is open.
 */
export function startEventPump(processEvents: () => void): () => void {
  const timer = setInterval(processEvents, EVENT_PUMP_INTERVAL_MS);
  return () => clearInterval(timer);
}
