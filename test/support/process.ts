/**
 * Child processes for tests: temp folders, free loopback ports, log files,
 * waiting for a port, and stopping by PID.
 *
 * Every process and temp folder started here is recorded, and importing this
 * module from a test file registers an afterAll hook that stops whatever is
 * still running and removes the temp folders.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export const LOOPBACK = '127.0.0.1';
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Default time to wait for a peer to accept connections. */
export const DEFAULT_START_TIMEOUT_MS = 20_000;
/** Time between SIGTERM and SIGKILL when stopping a process. */
export const DEFAULT_STOP_TIMEOUT_MS = 5_000;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  name: string;
  pid: number;
  /** Temp folder of this process; its log file is inside. */
  dir: string;
  logFile: string;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<ExitStatus>;
  exitStatus: ExitStatus | undefined;
  /** Sends SIGTERM, then SIGKILL after timeoutMs; resolves with the exit status. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
  readLog(): string;
}

const running = new Set<ManagedProcess>();
const tempDirs = new Set<string>();

/** Returns true when `sh -c 'command -v NAME'` finds the command. */
export function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates a fresh folder under os.tmpdir(). afterAll removes it unless the
 * environment variable LOADER_TEST_KEEP_TMP is set (to inspect logs and files).
 */
export function makeTempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `loader-test-${label}-`));
  tempDirs.add(dir);
  return dir;
}

function removeTempDirs(): void {
  if (process.env.LOADER_TEST_KEEP_TMP) return;
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/**
 * Returns a TCP port that was free on 127.0.0.1 a moment ago.
 * Another process can still take it before the caller binds it, so starters
 * retry with a new port when the peer reports that the address is in use.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** Returns the last `lines` lines of a log file, or a note when it cannot be read. */
export function tailOfFile(file: string, lines = 40): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    return `(log ${file} not readable: ${(error as Error).message})`;
  }
  const tail = text.split('\n').slice(-lines).join('\n').trimEnd();
  return tail === '' ? `(log ${file} is empty)` : tail;
}

export interface StartProcessOptions {
  name: string;
  command: string;
  args: string[];
  /** Temp folder for the log file; also the working directory unless cwd is set. */
  dir: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Spawns a process with stdout and stderr appended to DIR/NAME.log.
 * The process leads its own process group, so stop() also ends children it
 * forks (dcmqrscp forks one per association).
 */
export function startProcess(options: StartProcessOptions): ManagedProcess {
  const logFile = path.join(options.dir, `${options.name}.log`);
  const logFd = fs.openSync(logFile, 'a');
  fs.writeSync(logFd, `$ ${options.command} ${options.args.join(' ')}\n`);
  const child = spawn(options.command, options.args, {
    cwd: options.cwd ?? options.dir,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', logFd, logFd],
    detached: true,
  });
  fs.closeSync(logFd);

  let spawnError: Error | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('error', (error) => {
      spawnError = error;
      fs.appendFileSync(logFile, `spawn failed: ${error.message}\n`);
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  const handle: ManagedProcess = {
    name: options.name,
    pid: child.pid ?? -1,
    dir: options.dir,
    logFile,
    child,
    exited,
    exitStatus: undefined,
    stop: (timeoutMs = DEFAULT_STOP_TIMEOUT_MS) => stopProcess(handle, timeoutMs),
    readLog: () => fs.readFileSync(logFile, 'utf8'),
  };
  void exited.then((status) => {
    handle.exitStatus = status;
    running.delete(handle);
  });
  if (spawnError === undefined && child.pid !== undefined) {
    running.add(handle);
  }
  return handle;
}

function signalGroup(handle: ManagedProcess, signal: NodeJS.Signals): void {
  if (handle.pid <= 0) return;
  try {
    // A negative PID addresses the process group that startProcess created.
    process.kill(-handle.pid, signal);
  } catch {
    try {
      process.kill(handle.pid, signal);
    } catch {
      // The process has already exited.
    }
  }
}

async function stopProcess(handle: ManagedProcess, timeoutMs: number): Promise<ExitStatus> {
  if (handle.exitStatus !== undefined) {
    signalGroup(handle, 'SIGKILL');
    return handle.exitStatus;
  }
  signalGroup(handle, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const first = await Promise.race([handle.exited, timedOut]);
  clearTimeout(timer);
  if (first === 'timeout') {
    fs.appendFileSync(handle.logFile, `test support: no exit ${timeoutMs} ms after SIGTERM; sending SIGKILL\n`);
    signalGroup(handle, 'SIGKILL');
    return handle.exited;
  }
  // Children forked by the process may still be running.
  signalGroup(handle, 'SIGKILL');
  return first;
}

/** Stops every process started through this module that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((handle) => handle.stop()));
}

// Processes must not outlive the jest worker, even when a test file does not
// stop them or the worker is torn down early.
process.once('exit', () => {
  for (const handle of running) signalGroup(handle, 'SIGKILL');
});
if (typeof afterAll === 'function') {
  afterAll(async () => {
    await stopAll();
    removeTempDirs();
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true when a TCP connection to host:port succeeds within timeoutMs. */
export function canConnect(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export class StartError extends Error {
  constructor(
    message: string,
    readonly handle: ManagedProcess,
    readonly addressInUse: boolean,
  ) {
    super(`${message}\n--- last lines of ${handle.logFile} ---\n${tailOfFile(handle.logFile)}`);
    this.name = 'StartError';
  }
}

const ADDRESS_IN_USE = /address already in use|EADDRINUSE|cannot listen|bind.*fail|failed.*bind/i;

/**
 * Waits until `ready` returns true, polling every 100 ms.
 * Throws a StartError with the log tail when the process exits first or the
 * time runs out, and stops the process in the timeout case.
 */
export async function waitUntil(
  handle: ManagedProcess,
  condition: string,
  ready: () => Promise<boolean> | boolean,
  timeoutMs = DEFAULT_START_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (handle.exitStatus !== undefined) {
      const log = tailOfFile(handle.logFile, 200);
      const status = handle.exitStatus;
      throw new StartError(
        `${handle.name} (pid ${handle.pid}) exited with code ${status.code}, signal ${status.signal} before ${condition}`,
        handle,
        ADDRESS_IN_USE.test(log),
      );
    }
    if (await ready()) return;
    if (Date.now() > deadline) {
      await handle.stop();
      throw new StartError(`${handle.name} (pid ${handle.pid}): timed out after ${timeoutMs} ms waiting for ${condition}`, handle, false);
    }
    await sleep(100);
  }
}

/** Waits until host:port accepts TCP connections. */
export function waitForPort(handle: ManagedProcess, host: string, port: number, timeoutMs?: number): Promise<void> {
  return waitUntil(handle, `${host}:${port} to accept connections`, () => canConnect(host, port), timeoutMs);
}

/**
 * Starts a server on a free port, retrying with a new port (up to `attempts`
 * times) when the server reports that its address is already in use.
 */
export async function startOnFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (error) {
      if (!(error instanceof StartError && error.addressInUse) || attempt >= attempts) throw error;
    }
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kills the process (SIGKILL) after this many milliseconds; default 60 s. */
  timeoutMs?: number;
  input?: string | Buffer;
}

/** Runs a command to completion and returns its exit status and output. */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timeoutMs = options.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      stderr.push(Buffer.from(`\ntest support: ${command} killed after ${timeoutMs} ms\n`));
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`failed to run ${command}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.end(options.input);
  });
}
