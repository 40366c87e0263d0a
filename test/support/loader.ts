/**
 * Runs the built `loader` command (bin/loader, which loads dist/loader.js)
 * against throwaway archive and settings folders.
 *
 * HOME and XDG_CONFIG_HOME point into the temp folder as well, so a loader
 * that ignores --config-dir cannot write into the real user's settings.
 */
import * as fs from 'fs';
import * as path from 'path';

import {
  LOOPBACK,
  ManagedProcess,
  REPO_ROOT,
  RunOptions,
  RunResult,
  makeTempDir,
  runCommand,
  startOnFreePort,
  startProcess,
  waitForPort,
  waitUntil,
} from './process';

export const LOADER_BIN = path.join(REPO_ROOT, 'bin', 'loader');
export const LOADER_BUNDLE = path.join(REPO_ROOT, 'dist', 'loader.js');

/** Folders of one loader installation: archive, settings and a home folder. */
export interface LoaderDirs {
  root: string;
  archiveDir: string;
  configDir: string;
  homeDir: string;
}

export function createLoaderDirs(label = 'loader'): LoaderDirs {
  const root = makeTempDir(label);
  const dirs = {
    root,
    archiveDir: path.join(root, 'archive'),
    configDir: path.join(root, 'config'),
    homeDir: path.join(root, 'home'),
  };
  for (const dir of [dirs.archiveDir, dirs.configDir, dirs.homeDir]) fs.mkdirSync(dir, { recursive: true });
  return dirs;
}

function assertBuilt(): void {
  if (!fs.existsSync(LOADER_BUNDLE)) {
    throw new Error(`${LOADER_BUNDLE} not found: run 'npm run build' (scripts/test.sh builds it before running jest)`);
  }
}

/** Returns true when dist/loader.js exists, so tests can skip loader tests on an unbuilt checkout. */
export function loaderIsBuilt(): boolean {
  return fs.existsSync(LOADER_BUNDLE);
}

function loaderEnv(dirs: LoaderDirs, env?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    HOME: dirs.homeDir,
    XDG_CONFIG_HOME: path.join(dirs.homeDir, '.config'),
    XDG_DATA_HOME: path.join(dirs.homeDir, '.local', 'share'),
    ...env,
  };
}

function globalArgs(dirs: LoaderDirs): string[] {
  return ['--archive', dirs.archiveDir, '--config-dir', dirs.configDir];
}

export interface RunLoaderOptions extends RunOptions {
  /** Folders to use; default: a fresh set, returned in the result. */
  dirs?: LoaderDirs;
}

export interface LoaderRunResult extends RunResult {
  dirs: LoaderDirs;
  /** stdout parsed as JSON; throws when it is not valid JSON. */
  json<T = unknown>(): T;
}

/** Runs one loader command, e.g. runLoader(['studies', '--json'], { dirs }), and returns its exit code and output. */
export async function runLoader(args: string[], options: RunLoaderOptions = {}): Promise<LoaderRunResult> {
  assertBuilt();
  const dirs = options.dirs ?? createLoaderDirs();
  const result = await runCommand(LOADER_BIN, [...globalArgs(dirs), ...args], {
    ...options,
    env: loaderEnv(dirs, options.env),
  });
  return {
    ...result,
    dirs,
    json: <T>() => {
      try {
        return JSON.parse(result.stdout) as T;
      } catch (error) {
        throw new Error(
          `loader ${args.join(' ')}: stdout is not JSON (${(error as Error).message}); exit code ${result.code}\n` +
            `stdout: ${result.stdout.slice(0, 2000)}\nstderr: ${result.stderr.slice(-2000)}`,
        );
      }
    },
  };
}

export interface StartLoaderOptions {
  aeTitle?: string;
  /** Pass --accept-any so unregistered calling AE titles are accepted; default true. */
  acceptAny?: boolean;
  /** Folders to use; default: a fresh set. */
  dirs?: LoaderDirs;
  /** Port to listen on; default: a free port, retried when it is taken meanwhile. */
  port?: number;
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

export interface LoaderServer {
  aeTitle: string;
  host: string;
  port: number;
  dirs: LoaderDirs;
  process: ManagedProcess;
  logFile: string;
  readLog(): string;
  /** Sends SIGTERM (graceful stop), then SIGKILL after timeoutMs; resolves with the exit status. */
  stop(timeoutMs?: number): ReturnType<ManagedProcess['stop']>;
}

/**
 * Starts `loader serve` on 127.0.0.1 and waits until it has logged a
 * "listening" line and its port accepts TCP connections.
 * `args` are appended after the serve options, e.g. ['--port', '0'] to test errors.
 */
export async function startLoader(args: string[] = [], options: StartLoaderOptions = {}): Promise<LoaderServer> {
  assertBuilt();
  const dirs = options.dirs ?? createLoaderDirs();
  const aeTitle = options.aeTitle ?? 'LOADER';

  const start = async (port: number): Promise<LoaderServer> => {
    const serveArgs = ['serve', '--aet', aeTitle, '--host', LOOPBACK, '--port', String(port)];
    if (options.acceptAny ?? true) serveArgs.push('--accept-any');
    const process = startProcess({
      name: 'loader-serve',
      command: LOADER_BIN,
      args: [...globalArgs(dirs), ...serveArgs, ...args],
      dir: dirs.root,
      env: loaderEnv(dirs, options.env),
    });
    await waitUntil(process, 'a "listening" log line', () => /listening/i.test(process.readLog()), options.startTimeoutMs);
    await waitForPort(process, LOOPBACK, port, options.startTimeoutMs);
    return {
      aeTitle,
      host: LOOPBACK,
      port,
      dirs,
      process,
      logFile: process.logFile,
      readLog: process.readLog,
      stop: (timeoutMs) => process.stop(timeoutMs),
    };
  };

  return options.port !== undefined ? start(options.port) : startOnFreePort(start);
}
