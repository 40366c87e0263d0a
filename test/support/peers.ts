/**
 * Throwaway DICOM peers for interoperability tests: DCMTK storescp and
 * dcmqrscp, Orthanc, and DCMTK command-line clients.
 *
 * Each peer listens on a free port of 127.0.0.1 and keeps its files and log
 * in its own folder under os.tmpdir(). Orthanc's DICOM port listens on all
 * interfaces, because Orthanc 1.10 has no bind-address setting. afterAll
 * stops every peer by PID (see process.ts) unless the test stops it first.
 *
 * The loader helpers (startLoader, runLoader) and the corpus helpers are
 * re-exported, so tests need only this module.
 */
import * as fs from 'fs';
import * as path from 'path';

import {
  LOOPBACK,
  ManagedProcess,
  REPO_ROOT,
  RunOptions,
  RunResult,
  freePort,
  makeTempDir,
  runCommand,
  startOnFreePort,
  startProcess,
  waitForPort,
  waitUntil,
} from './process';

export * from './process';
export * from './loader';
export * from './corpus';

/** DCMTK's Debian build leaves Nagle's algorithm on unless this variable is set. */
export const DCMTK_ENV = { TCP_NODELAY: '1' };

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'peers');
/** storescu association profile "AllTS": uncompressed and compressed syntaxes for common storage classes (-xf FILE AllTS). */
export const STORESCU_ALL_TS_PROFILE = path.join(FIXTURES, 'storescu-allts.cfg');
/** dcmqrscp association profiles "In" and "Out" that accept compressed syntaxes (-xf FILE In Out). */
export const DCMQRSCP_ASSOCIATION_PROFILE = path.join(FIXTURES, 'dcmqrscp-assoc.cfg');

export interface DicomNode {
  aeTitle: string;
  host: string;
  port: number;
}

export interface PeerHandle extends DicomNode {
  process: ManagedProcess;
  dir: string;
  stop(): Promise<void>;
}

function peerHandle(process: ManagedProcess, node: DicomNode): PeerHandle {
  return {
    ...node,
    process,
    dir: process.dir,
    stop: async () => {
      await process.stop();
    },
  };
}

// --- DCMTK clients -----------------------------------------------------------

export type DcmtkTool = 'echoscu' | 'storescu' | 'findscu' | 'movescu' | 'getscu' | 'dcmdump' | 'dcmodify' | string;

/** Runs a DCMTK tool with TCP_NODELAY=1 and returns its exit code and output. */
export function runDcmtk(tool: DcmtkTool, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runCommand(tool, args, { ...options, env: { ...DCMTK_ENV, ...options.env } });
}

/** Returns the association arguments for a DCMTK client: -aet, -aec, host and port. */
export function associationArgs(called: DicomNode, callingAeTitle = 'DCMTKSCU'): string[] {
  return ['-aet', callingAeTitle, '-aec', called.aeTitle, called.host, String(called.port)];
}

/** Sends files with storescu, proposing all transfer syntaxes of STORESCU_ALL_TS_PROFILE. */
export function storeFiles(called: DicomNode, files: string[], options: RunOptions & { callingAeTitle?: string } = {}): Promise<RunResult> {
  return runDcmtk(
    'storescu',
    ['--no-halt', '-xf', STORESCU_ALL_TS_PROFILE, 'AllTS', ...associationArgs(called, options.callingAeTitle), ...files],
    options,
  );
}

/** Lists the files below a folder, recursively, sorted by path. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listFiles(full));
    else if (entry.isFile()) found.push(full);
  }
  return found.sort();
}

// --- storescp ----------------------------------------------------------------

export interface StorescpOptions {
  aeTitle: string;
  /** Accept every transfer syntax, compressed ones included (--accept-all); default: uncompressed only. */
  acceptAll?: boolean;
  /** Folder for received files; default: DIR/received. */
  outputDir?: string;
  /** Store each study in its own subfolder (--sort-on-study-uid st). */
  sortByStudy?: boolean;
  extraArgs?: string[];
}

export interface StorescpHandle extends PeerHandle {
  outputDir: string;
  /** Files received so far, sorted by path. */
  receivedFiles(): string[];
}

/** Starts DCMTK storescp as a storage SCP that writes what it receives to outputDir. */
export async function startStorescp(options: StorescpOptions): Promise<StorescpHandle> {
  const dir = makeTempDir('storescp');
  const outputDir = options.outputDir ?? path.join(dir, 'received');
  fs.mkdirSync(outputDir, { recursive: true });

  return startOnFreePort(async (port) => {
    const args = ['--aetitle', options.aeTitle, '--output-directory', outputDir];
    if (options.acceptAll) args.push('--accept-all');
    if (options.sortByStudy) args.push('--sort-on-study-uid', 'st');
    args.push(...(options.extraArgs ?? []), String(port));
    const process = startProcess({ name: 'storescp', command: 'storescp', args, dir, env: DCMTK_ENV });
    await waitForPort(process, LOOPBACK, port);
    return {
      ...peerHandle(process, { aeTitle: options.aeTitle, host: LOOPBACK, port }),
      outputDir,
      receivedFiles: () => listFiles(outputDir),
    };
  });
}

// --- dcmqrscp ----------------------------------------------------------------

export interface DcmqrscpOptions {
  aeTitle: string;
  /** Peers that may be C-MOVE destinations; dcmqrscp moves only to AEs listed here. */
  hostTable?: DicomNode[];
  /** Accept compressed transfer syntaxes on C-STORE (association profile In/Out). */
  acceptCompressed?: boolean;
}

export interface DcmqrscpHandle extends PeerHandle {
  /** dcmqrscp's storage folder for its AE; it contains index.dat and the stored files. */
  storageDir: string;
  configFile: string;
}

/** Returns the dcmqrscp configuration text for one AE that accepts any peer. */
export function dcmqrscpConfig(port: number, aeTitle: string, storageDir: string, hostTable: DicomNode[]): string {
  const hosts = hostTable.map((node, index) => `peer${index + 1} = (${node.aeTitle}, ${node.host}, ${node.port})`);
  return [
    `NetworkTCPPort  = ${port}`,
    'MaxPDUSize      = 16384',
    'MaxAssociations = 16',
    '',
    'HostTable BEGIN',
    ...hosts,
    'HostTable END',
    '',
    'VendorTable BEGIN',
    'VendorTable END',
    '',
    'AETable BEGIN',
    // AE title, storage folder, access, quota (max studies, max bytes per study), allowed peers
    `${aeTitle} ${storageDir} RW (200, 1024mb) ANY`,
    'AETable END',
    '',
  ].join('\n');
}

/**
 * Starts DCMTK dcmqrscp, a Query/Retrieve SCP with its own storage.
 * It runs in its default mode, forking one child per association, because
 * dcmqrscp 3.6.7 crashes after the first association in single-process
 * mode (-s). It cannot return compressed files by C-MOVE or C-GET even with
 * acceptCompressed; use Orthanc for compressed retrieval.
 */
export async function startDcmqrscp(options: DcmqrscpOptions): Promise<DcmqrscpHandle> {
  const dir = makeTempDir('dcmqrscp');
  // dcmqrscp needs an existing storage folder per AE in its AETable.
  const storageDir = path.join(dir, 'storage', options.aeTitle);
  fs.mkdirSync(storageDir, { recursive: true });
  const configFile = path.join(dir, 'dcmqrscp.cfg');

  return startOnFreePort(async (port) => {
    fs.writeFileSync(configFile, dcmqrscpConfig(port, options.aeTitle, storageDir, options.hostTable ?? []));
    const args = ['-c', configFile];
    if (options.acceptCompressed) args.push('-xf', DCMQRSCP_ASSOCIATION_PROFILE, 'In', 'Out');
    args.push(String(port));
    const process = startProcess({ name: 'dcmqrscp', command: 'dcmqrscp', args, dir, env: DCMTK_ENV });
    await waitForPort(process, LOOPBACK, port);
    return {
      ...peerHandle(process, { aeTitle: options.aeTitle, host: LOOPBACK, port }),
      storageDir,
      configFile,
    };
  });
}

// --- Orthanc -----------------------------------------------------------------

export const ORTHANC_GDCM_PLUGIN = '/usr/share/orthanc/plugins/libOrthancGdcm.so';

export interface OrthancModality {
  aet: string;
  host: string;
  port: number;
}

export interface OrthancOptions {
  aeTitle: string;
  /** Known modalities by name; each may echo, find, move, get and store. */
  modalities?: Record<string, OrthancModality>;
  /** HTTP port of the REST API; default: a free port. */
  httpPort?: number;
  /** Settings merged over the generated configuration. */
  extraConfig?: Record<string, unknown>;
}

export interface OrthancStudy {
  ID: string;
  MainDicomTags: Record<string, string>;
  PatientMainDicomTags: Record<string, string>;
  Series: string[];
}

export interface OrthancInstance {
  ID: string;
  MainDicomTags: Record<string, string>;
  ParentSeries: string;
}

export interface OrthancHandle extends PeerHandle {
  httpPort: number;
  /** Base URL of the REST API, http://127.0.0.1:PORT. */
  url: string;
  configFile: string;
  /** Sends a REST request and returns the parsed JSON response; throws on HTTP errors. A string or Buffer body is sent unchanged, other values as JSON. */
  rest<T = unknown>(method: string, resource: string, body?: unknown): Promise<T>;
  /** Stores one DICOM file through POST /instances and returns its Orthanc ID. */
  uploadFile(file: string): Promise<string>;
  listStudies(): Promise<OrthancStudy[]>;
  listInstances(): Promise<OrthancInstance[]>;
  /** Returns the Orthanc ID of the instance with this SOP Instance UID, or undefined. */
  findInstance(sopInstanceUid: string): Promise<string | undefined>;
  /** Downloads the stored DICOM file of an instance. */
  instanceFile(orthancId: string): Promise<Buffer>;
  /** C-ECHO to a configured modality; resolves true on success. */
  echo(modality: string): Promise<boolean>;
  /** C-FIND to a configured modality; returns the matches as tag-name/value objects. */
  query(modality: string, level: 'Patient' | 'Study' | 'Series' | 'Instance', query: Record<string, string>): Promise<Record<string, string>[]>;
  /** C-MOVE from a configured modality to targetAet (default: this Orthanc). */
  move(modality: string, level: 'Patient' | 'Study' | 'Series' | 'Instance', identifiers: Record<string, string>[], targetAet?: string): Promise<void>;
  /** C-STORE of Orthanc resources (any level) to a configured modality. */
  store(modality: string, orthancIds: string[]): Promise<void>;
}

/** Returns an Orthanc 1.10 configuration for a throwaway instance. */
export function orthancConfig(options: OrthancOptions, dicomPort: number, httpPort: number, dir: string): Record<string, unknown> {
  const modalities: Record<string, unknown> = {};
  for (const [name, modality] of Object.entries(options.modalities ?? {})) {
    modalities[name] = {
      AET: modality.aet,
      Host: modality.host,
      Port: modality.port,
      AllowEcho: true,
      AllowFind: true,
      AllowMove: true,
      AllowGet: true,
      AllowStore: true,
    };
  }
  return {
    Name: `ORTHANC-TEST-${options.aeTitle}`,
    StorageDirectory: path.join(dir, 'storage'),
    IndexDirectory: path.join(dir, 'index'),
    StorageCompression: false,
    // Without this, C-FIND responses are encoded as ISO_IR 100 and Cyrillic names are lost.
    DefaultEncoding: 'Utf8',
    // GDCM lets Orthanc transcode, e.g. JPEG 2000 to uncompressed for C-GET.
    Plugins: fs.existsSync(ORTHANC_GDCM_PLUGIN) ? [ORTHANC_GDCM_PLUGIN] : [],
    LuaScripts: [],
    HttpServerEnabled: true,
    HttpPort: httpPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    OrthancExplorerEnabled: false,
    DicomServerEnabled: true,
    DicomAet: options.aeTitle,
    DicomPort: dicomPort,
    DicomCheckCalledAet: true,
    DicomCheckModalityHost: true,
    DicomAlwaysAllowEcho: true,
    DicomAlwaysAllowStore: true,
    DicomAlwaysAllowFind: false,
    DicomAlwaysAllowGet: false,
    DicomAlwaysAllowMove: false,
    UnknownSopClassAccepted: true,
    DicomModalities: modalities,
    DicomModalitiesInDatabase: false,
    OrthancPeers: {},
    SaveJobs: false,
    ConcurrentJobs: 2,
    StableAge: 2,
    SynchronousCMove: true,
    DicomScuTimeout: 10,
    DicomScpTimeout: 30,
    ...options.extraConfig,
  };
}

/** Starts Orthanc and waits until both its DICOM port and its REST API answer. */
export async function startOrthanc(options: OrthancOptions): Promise<OrthancHandle> {
  const dir = makeTempDir('orthanc');
  const configFile = path.join(dir, 'orthanc.json');

  return startOnFreePort(async (dicomPort) => {
    const httpPort = options.httpPort ?? (await freeHttpPort(dicomPort));
    fs.writeFileSync(configFile, JSON.stringify(orthancConfig(options, dicomPort, httpPort, dir), null, 2));
    const process = startProcess({ name: 'orthanc', command: 'Orthanc', args: [configFile], dir });
    const url = `http://${LOOPBACK}:${httpPort}`;
    await waitForPort(process, LOOPBACK, dicomPort);
    await waitUntil(process, `${url}/system to answer`, async () => {
      try {
        return (await fetch(`${url}/system`)).ok;
      } catch {
        return false;
      }
    });
    return orthancHandle(process, { aeTitle: options.aeTitle, host: LOOPBACK, port: dicomPort }, httpPort, url, configFile);
  });
}

async function freeHttpPort(dicomPort: number): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port !== dicomPort) return port;
  }
}

function orthancHandle(process: ManagedProcess, node: DicomNode, httpPort: number, url: string, configFile: string): OrthancHandle {
  const rest = async <T>(method: string, resource: string, body?: unknown): Promise<T> => {
    const init: RequestInit = { method };
    if (body !== undefined) {
      // Buffers and strings go out as they are (a DICOM file, a UID for /tools/lookup); objects as JSON.
      init.body = Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
    }
    const response = await fetch(`${url}${resource}`, init);
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`Orthanc ${method} ${resource} failed: HTTP ${response.status} ${text}`);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };

  const handle: OrthancHandle = {
    ...peerHandle(process, node),
    httpPort,
    url,
    configFile,
    rest,
    uploadFile: async (file) => (await rest<{ ID: string }>('POST', '/instances', fs.readFileSync(file))).ID,
    listStudies: () => rest<OrthancStudy[]>('GET', '/studies?expand'),
    listInstances: () => rest<OrthancInstance[]>('GET', '/instances?expand'),
    findInstance: async (sopInstanceUid) => {
      const found = await rest<{ Type: string; ID: string }[]>('POST', '/tools/lookup', sopInstanceUid);
      const match = found.find((item) => item.Type === 'Instance');
      return match?.ID;
    },
    instanceFile: async (orthancId) => {
      const response = await fetch(`${url}/instances/${orthancId}/file`);
      if (!response.ok) throw new Error(`Orthanc GET /instances/${orthancId}/file failed: HTTP ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    },
    echo: async (modality) => {
      try {
        await rest('POST', `/modalities/${modality}/echo`, {});
        return true;
      } catch {
        return false;
      }
    },
    query: async (modality, level, query) => {
      const created = await rest<{ ID: string }>('POST', `/modalities/${modality}/query`, { Level: level, Query: query });
      const answers = await rest<string[]>('GET', `/queries/${created.ID}/answers`);
      const results: Record<string, string>[] = [];
      for (const index of answers) {
        results.push(await rest<Record<string, string>>('GET', `/queries/${created.ID}/answers/${index}/content?simplify`));
      }
      return results;
    },
    move: async (modality, level, identifiers, targetAet) => {
      await rest('POST', `/modalities/${modality}/move`, {
        Level: level,
        Resources: identifiers,
        TargetAet: targetAet ?? node.aeTitle,
        Synchronous: true,
      });
    },
    store: async (modality, orthancIds) => {
      await rest('POST', `/modalities/${modality}/store`, { Resources: orthancIds, Synchronous: true });
    },
  };
  return handle;
}
