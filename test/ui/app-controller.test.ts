/**
 * The window's controller without a display: Local panels over a real
 * archive, a PACS panel against Orthanc, and opening a PACS study in the
 * viewer, which retrieves it into the viewer's cache archive first.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { LocalArchive } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { SettingsStore } from '../../src/services/settings/settings-store';
import { AppController, LocalFolderError } from '../../src/ui/controllers/app-controller';
import type { PanelConnection, TransferProgress } from '../../src/ui/controllers/app-controller';
import { keptSelection, panelKindChange, sideToOpen } from '../../src/ui/controllers/panel-state';
import { StudyRetrieveError } from '../../src/ui/controllers/study-opener';
import type { OpenProgress } from '../../src/ui/controllers/study-opener';
import { messageKeys } from '../../src/ui/i18n';
import { seriesFromArchive } from '../../src/ui/viewer/study-source';
import { CT_SMALL, MR_SMALL, PYDICOM_TEST_FILES, Tag, freshCopy } from '../archive/fixtures';
import { MemoryStore } from '../support/keyring';
import { corpusSamples, freePort, LOOPBACK, makeTempDir, startDcmqrscp, startOrthanc, storeFiles } from '../support/peers';
import type { OrthancHandle, PeerHandle } from '../support/peers';

const LOADER_AE = 'LOADERCTL';

/** Creates a controller whose settings, archive and cache folders are all new temporary folders. */
function newController(label: string): { controller: AppController; configDir: string; archiveRoot: string; cacheDir: string } {
  const root = makeTempDir(label);
  const configDir = path.join(root, 'config');
  const archiveRoot = path.join(root, 'archive');
  const cacheDir = path.join(root, 'cache');
  const settings = new SettingsStore({ configDir });
  settings.updatePacs({ aeTitle: LOADER_AE });
  const controller = new AppController({ configDir, archiveRoot, cacheDir, secretStore: new MemoryStore() });
  return { controller, configDir, archiveRoot, cacheDir };
}

/** A ScanSummary whose counts other than scanned and indexed are all zero. */
const NO_PROBLEMS = { duplicates: 0, damaged: 0, unreadable: 0, notDicom: 0, conflicts: 0, missing: 0, specialFiles: 0, unreferenced: 0, unreferencedDicomLike: 0 };

let previousSink: (line: string) => void;
beforeAll(() => {
  previousSink = setLogSink(() => undefined);
});
afterAll(() => {
  setLogSink(previousSink);
});

test('i18n has every key in both languages', () => {
  expect(messageKeys('ru').sort()).toEqual(messageKeys('en').sort());
});

describe('legacy character set in use', () => {
  test('stays at the start value after save', () => {
    const { controller } = newController('ui-charset-in-use');
    controller.updatePacs({ legacyCharacterSet: 'windows-1251' });
    expect(controller.settings.settings.pacs.legacyCharacterSet).toBe('windows-1251');
    expect(controller.legacyCharacterSetInUse()).toEqual({ characterSet: 'latin1', fromOption: false });
  });

  test('stored value is used at the next start', () => {
    const { controller, configDir, archiveRoot, cacheDir } = newController('ui-charset-restart');
    controller.updatePacs({ legacyCharacterSet: 'koi8-r' });
    const restarted = new AppController({ configDir, archiveRoot, cacheDir, secretStore: new MemoryStore() });
    expect(restarted.legacyCharacterSetInUse()).toEqual({ characterSet: 'koi8-r', fromOption: false });
  });

  test('--legacy-charset overrides the setting', () => {
    const { configDir, archiveRoot, cacheDir } = newController('ui-charset-option');
    const controller = new AppController({ configDir, archiveRoot, cacheDir, secretStore: new MemoryStore(), legacyCharacterSet: 'iso-8859-5' });
    expect(controller.legacyCharacterSetInUse()).toEqual({ characterSet: 'iso-8859-5', fromOption: true });
  });
});

describe('Ctrl+Enter panel choice', () => {
  const pacs = { kind: 'pacs' as const, connection: { kind: 'pacs' } as PanelConnection, selectedUids: ['1.2.3'], selectedPaths: [] };
  const local = { kind: 'local' as const, connection: { kind: 'local' } as PanelConnection, selectedUids: ['1.2.4'], selectedPaths: [] };
  const panels = { left: pacs, right: local };

  test('focused panel wins', () => {
    expect(sideToOpen(panels, 'left', 'right')).toBe('left');
    expect(sideToOpen(panels, 'right', 'left')).toBe('right');
  });

  test('last used panel without focus', () => {
    expect(sideToOpen(panels, undefined, 'left')).toBe('left');
  });

  test('Local panel without preference', () => {
    expect(sideToOpen(panels, undefined, undefined)).toBe('right');
  });

  test('preferred panel without selection skipped', () => {
    const empty = { left: { ...pacs, selectedUids: [] }, right: local };
    expect(sideToOpen(empty, 'left', 'left')).toBe('right');
    const disconnected = { left: pacs, right: { ...local, connection: undefined } };
    expect(sideToOpen(disconnected, 'right', undefined)).toBe('left');
    expect(sideToOpen({ left: empty.left, right: disconnected.right }, 'left', 'right')).toBeUndefined();
  });
});

describe('Local panel', () => {
  const samples = corpusSamples((file) => /^samples\/(ct|mr)\//.test(file.path) && file.studyInstanceUid !== null);
  let controller: AppController;
  let archiveRoot: string;

  beforeAll(async () => {
    ({ controller, archiveRoot } = newController('ctl-local'));
    const source = makeTempDir('ctl-local-files');
    for (const sample of samples) fs.copyFileSync(sample.absolutePath, path.join(source, path.basename(sample.path)));
    const archive = LocalArchive.open(archiveRoot);
    try {
      await archive.scanPaths([source], { import: true });
    } finally {
      archive.close();
    }
  });

  afterAll(async () => {
    await controller.close();
  });

  test('scanLocal counts unreadable files as failed', async () => {
    const { controller: scanning, archiveRoot: scanRoot } = newController('ctl-scan');
    const folder = makeTempDir('ctl-scan-files');
    fs.copyFileSync(samples[0].absolutePath, path.join(folder, 'good.dcm'));
    // A name that is not valid UTF-8, as on a disc mounted without iocharset, cannot be opened by its decoded name.
    fs.copyFileSync(samples[0].absolutePath, Buffer.concat([Buffer.from(`${folder}/bad`), Buffer.from([0xe9]), Buffer.from('.dcm')]));
    const archive = LocalArchive.open(scanRoot);

    const result = await scanning.scanLocal(archive, folder, () => undefined);
    archive.close();
    await scanning.close();

    expect(result).toEqual({ ...NO_PROBLEMS, scanned: 2, indexed: 1, unreadable: 1 });
  });

  test('scanLocal counts FIFO and DICOMDIR gap', async () => {
    const { controller: scanning, archiveRoot: scanRoot } = newController('ctl-scan-special');
    const folder = makeTempDir('ctl-scan-special-files');
    freshCopy(CT_SMALL, path.join(folder, 'IMAGES', 'IM1'));
    const gap = freshCopy(MR_SMALL, path.join(folder, 'IMAGES', 'IM2'));
    execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'IMAGES'], { cwd: folder, stdio: 'pipe' });
    fs.rmSync(gap);
    execFileSync('mkfifo', [path.join(folder, 'pipe')], { stdio: 'pipe' });
    const archive = LocalArchive.open(scanRoot);

    const result = await scanning.scanLocal(archive, folder, () => undefined);
    archive.close();
    await scanning.close();

    // IM1 and the FIFO are scanned. IM2, which the DICOMDIR references, is missing, so it is not scanned.
    expect(result).toEqual({ ...NO_PROBLEMS, scanned: 2, indexed: 1, missing: 1, specialFiles: 1 });
  });

  test('scanLocal counts files a DICOMDIR omits', async () => {
    const { controller: scanning, archiveRoot: scanRoot } = newController('ctl-scan-unreferenced');
    const folder = makeTempDir('ctl-scan-unreferenced-files');
    freshCopy(CT_SMALL, path.join(folder, 'IMAGES', 'IM1'));
    freshCopy(MR_SMALL, path.join(folder, 'IMAGES', 'IM2'));
    execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'IMAGES'], { cwd: folder, stdio: 'pipe' });
    // Written after the DICOMDIR, so none of its records references them: a DICOM file and a viewer's text file.
    freshCopy(CT_SMALL, path.join(folder, 'IMAGES', 'IM3'));
    fs.writeFileSync(path.join(folder, 'README.TXT'), 'Open the images with the viewer on this disc.\n');
    const archive = LocalArchive.open(scanRoot);

    const result = await scanning.scanLocal(archive, folder, () => undefined);
    archive.close();
    await scanning.close();

    expect(result).toEqual({ ...NO_PROBLEMS, scanned: 2, indexed: 2, unreferenced: 2, unreferencedDicomLike: 1 });
  });

  test('scanLocal counts hard links as duplicates', async () => {
    const { controller: scanning, archiveRoot: scanRoot } = newController('ctl-scan-links');
    const folder = makeTempDir('ctl-scan-links-files');
    const original = freshCopy(CT_SMALL, path.join(folder, 'IM1'));
    fs.linkSync(original, path.join(folder, 'IM1-copy1'));
    fs.linkSync(original, path.join(folder, 'IM1-copy2'));
    const archive = LocalArchive.open(scanRoot);

    const result = await scanning.scanLocal(archive, folder, () => undefined);
    archive.close();
    await scanning.close();

    expect(result).toEqual({ ...NO_PROBLEMS, scanned: 3, indexed: 1, duplicates: 2 });
  });

  test('connectLocal reuses the open archive', () => {
    const first = controller.connectLocal(archiveRoot);
    const second = controller.connectLocal(archiveRoot);
    expect(first.kind).toBe('local');
    expect(second.kind).toBe('local');
    if (first.kind !== 'local' || second.kind !== 'local') return;
    expect(second.archive).toBe(first.archive);
    expect(first.label).toBe(archiveRoot);
  });

  test('searchLocal lists and filters studies', () => {
    const connection = controller.connectLocal(archiveRoot);
    if (connection.kind !== 'local') throw new Error('expected a local connection');
    const studies = new Set(samples.map((sample) => sample.studyInstanceUid));
    const all = controller.searchLocal(connection.archive);
    expect(all.map((row) => row.studyInstanceUid).sort()).toEqual([...studies].sort());

    const first = all[0];
    const word = first.patientName.split(' ')[0];
    const filtered = controller.searchLocal(connection.archive, `  ${word.toUpperCase()} `);
    expect(filtered.map((row) => row.studyInstanceUid)).toContain(first.studyInstanceUid);
    for (const row of filtered) expect(`${row.patientName} ${row.studyDescription}`.toLowerCase()).toContain(word.toLowerCase());

    expect(controller.searchLocal(connection.archive, 'no such patient or study 5c1b')).toEqual([]);
  });

  test('searchLocal matches shown columns', async () => {
    // Иванов^Иван^Петрович, OT, 2007-04-06; the table shows the name as "Иванов Иван Петрович".
    const cyrillic = corpusSamples((file) => file.path === 'samples/charset/cyrillic-iso-ir-192.dcm')[0];
    const source = makeTempDir('ctl-local-cyrillic');
    fs.copyFileSync(cyrillic.absolutePath, path.join(source, 'cyrillic.dcm'));
    const connection = controller.connectLocal(archiveRoot);
    if (connection.kind !== 'local') throw new Error('expected a local connection');
    await connection.archive.scanPaths([source], { import: true });
    const uidsOf = (text: string) => controller.searchLocal(connection.archive, text).map((row) => row.studyInstanceUid);

    expect(uidsOf('иванов')).toEqual([cyrillic.studyInstanceUid]);
    expect(uidsOf('иванов иван')).toEqual([cyrillic.studyInstanceUid]);
    expect(uidsOf('  иван   петрович ')).toEqual([cyrillic.studyInstanceUid]);
    expect(uidsOf('иванов 2007-04-06')).toEqual([cyrillic.studyInstanceUid]);
    expect(uidsOf('20070406')).toEqual([cyrillic.studyInstanceUid]);
    expect(uidsOf('иванов ot')).toEqual([cyrillic.studyInstanceUid]);
    expect(uidsOf('иванов ct')).toEqual([]);
    expect(uidsOf('сидоров')).toEqual([]);

    const summaries = new Map(connection.archive.searchStudies({}).map((study) => [study.studyInstanceUid, study]));
    const ct = controller.searchLocal(connection.archive, 'ct');
    expect(ct.length).toBeGreaterThan(0);
    for (const row of ct) {
      const study = summaries.get(row.studyInstanceUid)!;
      expect(`${row.patientName} ${row.studyDescription} ${row.modalities} ${study.patientId} ${study.accessionNumber}`.toLowerCase()).toContain('ct');
    }

    const cyrillicStudy = summaries.get(cyrillic.studyInstanceUid!)!;
    expect(cyrillicStudy.patientId).not.toBe('');
    expect(uidsOf(cyrillicStudy.patientId.toLowerCase())).toContain(cyrillic.studyInstanceUid);
    if (cyrillicStudy.accessionNumber !== '') expect(uidsOf(cyrillicStudy.accessionNumber)).toContain(cyrillic.studyInstanceUid);
  });

  test('searchLocal counts study images', () => {
    const connection = controller.connectLocal(archiveRoot);
    if (connection.kind !== 'local') throw new Error('expected a local connection');
    const counts = new Map<string, number>();
    for (const sample of samples) counts.set(sample.studyInstanceUid!, (counts.get(sample.studyInstanceUid!) ?? 0) + 1);
    // The archive also contains the studies that the tests above imported, which are not counted here.
    const rows = controller.searchLocal(connection.archive).filter((row) => counts.has(row.studyInstanceUid));
    expect(rows).toHaveLength(counts.size);
    for (const row of rows) {
      // A failure shows the study next to its count.
      expect({ study: row.studyInstanceUid, images: row.numberOfInstances }).toEqual({ study: row.studyInstanceUid, images: counts.get(row.studyInstanceUid) });
    }
  });

  test('searchLocal formats dates', () => {
    const connection = controller.connectLocal(archiveRoot);
    if (connection.kind !== 'local') throw new Error('expected a local connection');
    for (const row of controller.searchLocal(connection.archive)) {
      if (row.studyDate !== '') expect(row.studyDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  test('opening a local study needs no transfer', async () => {
    const connection = controller.connectLocal(archiveRoot);
    const uid = samples[0].studyInstanceUid!;
    const events: OpenProgress[] = [];
    const opened = await controller.studyOpener.open(connection, { studyInstanceUid: uid }, (event) => events.push(event));
    expect(opened?.study).toEqual({ archiveRoot, studyInstanceUid: uid, failures: [] });
    expect(events).toEqual([]);
  });
});

describe('PACS panel against Orthanc', () => {
  const samples = corpusSamples((file) => file.kind === 'mr-volume');
  const studyUid = samples[0]?.studyInstanceUid ?? '';
  let orthanc: OrthancHandle;
  let controller: AppController;
  let cacheDir: string;
  let archiveRoot: string;

  beforeAll(async () => {
    expect(samples.length).toBeGreaterThan(1);
    orthanc = await startOrthanc({ aeTitle: 'ORTHANCCTL', modalities: { loader: { aet: LOADER_AE, host: LOOPBACK, port: await freePort() } } });
    for (const sample of samples) await orthanc.uploadFile(sample.absolutePath);
    ({ controller, cacheDir, archiveRoot } = newController('ctl-pacs'));
  }, 120_000);

  afterAll(async () => {
    await controller?.close();
    await orthanc?.stop();
  });

  const input = () => ({ host: LOOPBACK, port: String(orthanc.port), aeTitle: 'ORTHANCCTL', login: '', password: '' });

  test('connectPacs checks the node with C-ECHO', async () => {
    const connection = await controller.connectPacs(input());
    expect(connection.kind).toBe('pacs');
    expect(connection.label).toBe(`ORTHANCCTL@${LOOPBACK}:${orthanc.port}`);
  });

  test('kind switch drops SSH credentials', async () => {
    // The fields of an SSH panel after a Connect; panel.ts itself needs Qt, so the state is written out here.
    const sshPanel = { kind: 'ssh' as const, host: LOOPBACK, port: '4242', aeTitle: 'ORTHANC', login: 'radiologist', password: 'ssh-secret', name: 'workstation' };
    const pacsPanel = { ...sshPanel, ...panelKindChange(sshPanel, 'pacs') };
    expect(pacsPanel.kind).toBe('pacs');
    expect(pacsPanel.login).toBe('');
    expect(pacsPanel.password).toBe('');
    expect(pacsPanel.name).toBe('');
    expect(pacsPanel).toHaveProperty('connection', undefined);

    // Connect then sends no DICOM user identity to the PACS.
    const connection = await controller.connectPacs({ ...pacsPanel, port: String(orthanc.port), aeTitle: 'ORTHANCCTL' });
    if (connection.kind !== 'pacs') throw new Error('expected a PACS connection');
    expect(connection.node.credentials).toBeUndefined();

    // The PACS login and password do not reach an SSH panel either.
    const withPacsLogin = { ...pacsPanel, login: 'pacs-user', password: 'pacs-secret' };
    const backToSsh = panelKindChange(withPacsLogin, 'ssh');
    expect(backToSsh.login).toBe('');
    expect(backToSsh.password).toBe('');
    expect(panelKindChange(withPacsLogin, 'pacs')).toEqual({});
  });

  test('connectPacs to a closed port fails', async () => {
    const port = await freePort();
    await expect(controller.connectPacs({ ...input(), port: String(port) })).rejects.toThrow(new RegExp(String(port)));
  });

  test('searchPacs returns the uploaded study', async () => {
    const connection = await controller.connectPacs(input());
    if (connection.kind !== 'pacs') throw new Error('expected a PACS connection');
    const rows = await controller.searchPacs(connection.node, {});
    expect(rows.map((row) => row.studyInstanceUid)).toEqual([studyUid]);
    expect(rows[0].modalities).toBe('MR');
    // Number of Study Related Instances, which the image count column shows and sorts by.
    expect(rows[0].numberOfInstances).toBe(samples.length);
  });

  test('remote open retrieves into the cache archive', async () => {
    const connection = await controller.connectPacs(input());
    const events: OpenProgress[] = [];
    const opened = await controller.studyOpener.open(connection, { studyInstanceUid: studyUid }, (event) => events.push(event));
    expect(opened).toBeDefined();
    const study = opened!.study;
    expect(study.archiveRoot).toBe(path.join(cacheDir, 'viewer-archive'));
    expect(study.studyInstanceUid).toBe(studyUid);
    expect(study.failures).toEqual([]);
    expect(opened!.studiesFound).toBe(1);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((event) => event.source === 'pacs')).toBe(true);

    // The viewer reads the study from the cache archive's index; the Local panels' archive stays empty.
    const series = await seriesFromArchive(study.archiveRoot, studyUid, 'latin1');
    const instances = series.reduce((total, entry) => total + entry.instances.length, 0);
    expect(instances).toBe(samples.length);
    for (const entry of series) for (const instance of entry.instances) expect(fs.existsSync(instance.path)).toBe(true);
    expect(fs.existsSync(archiveRoot)).toBe(false);
  });

  test('remote open of an unknown study fails', async () => {
    const connection = await controller.connectPacs(input());
    if (connection.kind !== 'pacs') throw new Error('expected a PACS connection');
    const missing = '1.2.826.0.1.3680043.9.7.999.1';
    const attempt = controller.studyOpener.open(connection, { studyInstanceUid: missing }, () => undefined);
    await expect(attempt).rejects.toBeInstanceOf(StudyRetrieveError);
    await expect(controller.studyOpener.open(connection, { studyInstanceUid: missing }, () => undefined)).rejects.toThrow(missing);
    // The controller stays usable after the failure.
    expect(await controller.searchPacs(connection.node, {})).toHaveLength(1);
  });

  test('send to a stopped node stores nothing', async () => {
    const local = controller.connectLocal(archiveRoot);
    if (local.kind !== 'local') throw new Error('expected a local connection');
    await local.archive.importFile(freshCopy(CT_SMALL, path.join(makeTempDir('ctl-send-stopped'), 'ct.dcm')), { copy: true });
    const studyUids = controller.searchLocal(local.archive).map((row) => row.studyInstanceUid);
    const stopped = await startOrthanc({ aeTitle: 'ORTHANCSTOP' });
    const gone = await controller.connectPacs({ ...input(), port: String(stopped.port), aeTitle: 'ORTHANCSTOP' });
    await stopped.stop();
    if (gone.kind !== 'pacs') throw new Error('expected a PACS connection');
    const events: TransferProgress[] = [];

    const result = await controller.sendToPacs(local.archive, gone.node, studyUids, (event) => events.push(event));

    expect(studyUids).toHaveLength(1);
    expect(result.outcome).toBe('failure');
    expect(result.instances).toBe(0);
    expect(events.length).toBeGreaterThan(0);
    // The progress bar shows the share of instances stored, so it stays at 0%.
    for (const event of events) expect({ instancesDone: event.instancesDone, instancesTotal: event.instancesTotal }).toEqual({ instancesDone: 0, instancesTotal: 1 });
  });

  test('remote open from a stopped node fails', async () => {
    const connection = await controller.connectPacs(input());
    const stopped = await startOrthanc({ aeTitle: 'ORTHANCGONE' });
    const gone = await controller.connectPacs({ ...input(), port: String(stopped.port), aeTitle: 'ORTHANCGONE' });
    await stopped.stop();
    expect(connection.kind).toBe('pacs');
    await expect(controller.studyOpener.open(gone, { studyInstanceUid: studyUid }, () => undefined)).rejects.toBeInstanceOf(StudyRetrieveError);
  });
});

describe('retrieve interrupted mid-way', () => {
  const samples = corpusSamples((file) => file.kind === 'mr-volume');
  const studyUid = samples[0]?.studyInstanceUid ?? '';

  test.each(['get', 'move'] as const)('C-%s from a stopped node is partial', async (method) => {
    const { controller, archiveRoot } = newController(`ctl-interrupt-${method}`);
    // C-MOVE sends the instances to the loader's temporary C-STORE SCP.
    const loaderPort = await freePort();
    controller.updatePacs({ moveScuPort: loaderPort, host: LOOPBACK });
    const orthanc = await startOrthanc({ aeTitle: 'ORTHANCCUT', modalities: { loader: { aet: LOADER_AE, host: LOOPBACK, port: loaderPort } } });
    try {
      for (const sample of samples) await orthanc.uploadFile(sample.absolutePath);
      const connection = await controller.connectPacs({ host: LOOPBACK, port: String(orthanc.port), aeTitle: 'ORTHANCCUT', login: '', password: '' });
      if (connection.kind !== 'pacs') throw new Error('expected a PACS connection');
      const archive = controller.openArchive(archiveRoot);

      // Orthanc is killed as soon as the first instance arrives; the kill is synchronous, so no later instance is sent.
      let killed = false;
      const events: TransferProgress[] = [];
      const result = await controller.retrieveToLocal(connection.node, archive, [studyUid], method, (progress) => {
        events.push(progress);
        if (progress.instancesDone > 0 && !killed) {
          killed = true;
          process.kill(orthanc.process.pid, 'SIGKILL');
        }
      });

      expect(result.instances).toBeGreaterThan(0);
      expect(result.instances).toBeLessThan(samples.length);
      expect(result.outcome).toBe('partial');
      const studyEntry = result.failures.find((failure) => failure.uid === studyUid);
      expect(studyEntry?.reason).toContain(`received ${result.instances} of ${samples.length} instances`);
      const last = events[events.length - 1];
      expect(last.studiesDone).toBe(0);
      expect(last.instancesDone).toBe(result.instances);
      expect(last.instancesTotal).toBe(samples.length);
    } finally {
      await orthanc.stop();
      await controller.close();
    }
  }, 120_000);
});

describe.each(['Orthanc', 'dcmqrscp'] as const)('C-MOVE to the window server from %s', (peerKind) => {
  const samples = corpusSamples((file) => file.kind === 'mr-volume');
  const studyUid = samples[0]?.studyInstanceUid ?? '';
  let peer: PeerHandle;
  let controller: AppController;
  let archiveRoot: string;
  let movePort: number;

  const connect = async () => {
    const connection = await controller.connectPacs({ host: LOOPBACK, port: String(peer.port), aeTitle: peer.aeTitle, login: '', password: '' });
    if (connection.kind !== 'pacs') throw new Error('expected a PACS connection');
    return connection.node;
  };
  /** Retrieves the study by C-MOVE only, so a failed C-MOVE is not hidden by a C-GET fallback. */
  const retrieve = async (archive: LocalArchive) => {
    const events: TransferProgress[] = [];
    const node = await connect();
    const result = await controller.retrieveToLocal(node, archive, [studyUid], 'move', (progress) => events.push(progress));
    return { result, events };
  };

  beforeAll(async () => {
    expect(samples.length).toBeGreaterThan(1);
    ({ controller, archiveRoot } = newController(`ctl-move-${peerKind}`));
    // The node's move destination for LOADER_AE is the server's port, not moveScuPort, where the retrieve listens.
    const serverPort = await freePort();
    movePort = await freePort();
    controller.updatePacs({ host: LOOPBACK, port: serverPort, moveScuPort: movePort });
    const destination = { aeTitle: LOADER_AE, host: LOOPBACK, port: serverPort };
    if (peerKind === 'Orthanc') {
      const orthanc = await startOrthanc({ aeTitle: 'ORTHANCMOVE', modalities: { loader: { aet: destination.aeTitle, host: destination.host, port: destination.port } } });
      for (const sample of samples) await orthanc.uploadFile(sample.absolutePath);
      peer = orthanc;
    } else {
      peer = await startDcmqrscp({ aeTitle: 'QRSCPMOVE', hostTable: [destination] });
      expect((await storeFiles(peer, samples.map((sample) => sample.absolutePath))).code).toBe(0);
    }
    // The server accepts the node's sub-operations because the node is a registered location.
    controller.settings.addPacsNode({ name: 'source', aeTitle: peer.aeTitle, host: LOOPBACK, port: peer.port, characterSet: 'ISO_IR 192' });
    const state = await controller.startServer();
    expect(state).toMatchObject({ running: true, port: serverPort });
  }, 120_000);

  afterAll(async () => {
    await controller?.close();
    await peer?.stop();
  });

  test('study lands in the server archive', async () => {
    const archive = controller.openArchive(archiveRoot);
    const listed: string[][] = [];
    const unsubscribe = controller.archiveChanges.subscribe((change) => listed.push(change.studyInstanceUids));
    try {
      const { result, events } = await retrieve(archive);

      expect(result.failures).toEqual([]);
      expect(result.outcome).toBe('success');
      expect(result.instances).toBe(samples.length);
      expect(archive.listInstances({ studyInstanceUid: studyUid })).toHaveLength(samples.length);
      const last = events[events.length - 1];
      expect(last).toEqual({ studiesDone: 1, studiesTotal: 1, instancesDone: samples.length, instancesTotal: samples.length });
      // Progress moved while the instances arrived at the server, not only at the end.
      expect(events.filter((event) => event.instancesDone > 0 && event.instancesDone < samples.length).length).toBeGreaterThan(0);
      // A Local panel that shows the server's archive lists it again.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(listed.flat()).toContain(studyUid);
    } finally {
      unsubscribe();
    }
  }, 60_000);

  test('repeated retrieve counts duplicates', async () => {
    const archive = controller.openArchive(archiveRoot);
    const listed: string[][] = [];
    const unsubscribe = controller.archiveChanges.subscribe((change) => listed.push(change.studyInstanceUids));
    try {
      const { result } = await retrieve(archive);

      expect(result.failures).toEqual([]);
      expect(result.outcome).toBe('success');
      expect(result.instances).toBe(samples.length);
      // Duplicates leave the archive's listing as it was, so no Local panel lists it again.
      controller.archiveChanges.flush();
      expect(listed).toEqual([]);
    } finally {
      unsubscribe();
    }
  }, 60_000);

  test('other target archive gets copies', async () => {
    const otherRoot = path.join(makeTempDir(`ctl-move-${peerKind}-other`), 'archive');
    const other = controller.openArchive(otherRoot);
    const { result } = await retrieve(other);

    expect(result.failures).toEqual([]);
    expect(result.outcome).toBe('success');
    expect(result.instances).toBe(samples.length);
    const copies = other.listInstances({ studyInstanceUid: studyUid });
    expect(copies).toHaveLength(samples.length);
    for (const copy of copies) expect(copy.path.startsWith(otherRoot)).toBe(true);
  }, 60_000);

  test('stopped server leaves the retrieve failed', async () => {
    await controller.stopServer();
    try {
      const otherRoot = path.join(makeTempDir(`ctl-move-${peerKind}-stopped`), 'archive');
      const { result } = await retrieve(controller.openArchive(otherRoot));

      expect(result.outcome).toBe('failure');
      expect(result.instances).toBe(0);
      expect(result.failures.map((failure) => failure.uid)).toContain(studyUid);
    } finally {
      await controller.startServer();
    }
  }, 60_000);
});

describe('Local panel folder', () => {
  test('scanLocal indexes the panel folder', async () => {
    const { controller } = newController('ctl-scan-panel');
    const folder = makeTempDir('ctl-scan-panel-files');
    const inPlace = [freshCopy(CT_SMALL, path.join(folder, 'ct', 'image1.dcm')), freshCopy(MR_SMALL, path.join(folder, 'mr', 'image1.dcm'))];
    // Its Pixel Data (7FE0,0010) declares more bytes than the file has.
    fs.copyFileSync(path.join(PYDICOM_TEST_FILES, 'MR_truncated.dcm'), path.join(folder, 'damaged.dcm'));
    const connection = controller.connectLocal(folder);
    if (connection.kind !== 'local') throw new Error('expected a local connection');
    // A file that the archive stored in its own study folder, as its PACS server or an import stores it.
    const stored = await connection.archive.importFile(freshCopy(CT_SMALL, path.join(makeTempDir('ctl-scan-panel-stored'), 'stored.dcm')), { copy: true });

    try {
      const result = await controller.scanLocal(connection.archive, folder, () => undefined);

      // Two files in place, the damaged one and the stored one; index.sqlite and .processes are not scanned.
      expect(result).toEqual({ ...NO_PROBLEMS, scanned: 4, indexed: 2, duplicates: 1, damaged: 1 });
      const studyUids = controller.searchLocal(connection.archive).map((row) => row.studyInstanceUid);
      expect(studyUids).toHaveLength(3);
      expect(studyUids).toContain(stored.studyInstanceUid);
      for (const file of inPlace) expect(connection.archive.listInstances({}).map((instance) => instance.path)).toContain(fs.realpathSync(file));
    } finally {
      await controller.close();
    }
  });

  test('connectLocal rejects a missing folder', async () => {
    const { controller } = newController('ctl-missing-folder');
    const parent = makeTempDir('ctl-missing-folder-parent');
    const missing = path.join(parent, 'no', 'such', 'folder');

    expect(() => controller.connectLocal(missing)).toThrow(LocalFolderError);
    expect(() => controller.connectLocal(missing)).toThrow(`The folder ${missing} does not exist.`);
    expect(fs.existsSync(path.join(parent, 'no'))).toBe(false);

    controller.updateInterface({ language: 'ru' });
    expect(() => controller.connectLocal(missing)).toThrow(`Папка ${missing} не существует.`);
    expect(fs.existsSync(path.join(parent, 'no'))).toBe(false);
    await controller.close();
  });

  test('connectLocal rejects a file and no path', async () => {
    const { controller } = newController('ctl-file-folder');
    const file = path.join(makeTempDir('ctl-file-folder-parent'), 'image.dcm');
    fs.copyFileSync(CT_SMALL, file);

    expect(() => controller.connectLocal(file)).toThrow(`${file} is a file, not a folder.`);
    expect(() => controller.connectLocal(path.join(file, 'below'))).toThrow('does not exist');
    expect(() => controller.connectLocal('  ')).toThrow('No folder given');
    await controller.close();
  });

  test('connectLocal creates the window archive', async () => {
    const { controller, archiveRoot } = newController('ctl-window-archive');
    expect(fs.existsSync(archiveRoot)).toBe(false);

    const connection = controller.connectLocal(archiveRoot);

    expect(connection.kind).toBe('local');
    expect(fs.existsSync(path.join(archiveRoot, 'index.sqlite'))).toBe(true);
    await controller.close();
  });
});

describe('Local panel filter', () => {
  const SpecificCharacterSet = '(0008,0005)';
  const names: Record<string, string> = {
    yolkina: 'Ёлкина^Алёна',
    ivanov: 'Иванов^Иван^Петрович',
    petrov: 'Петров^Пётр^Сергеевич',
    petrova: 'ПЕТРОВА^ПЁТРА',
    lower: 'Lower^Case',
  };
  const uidOf: Record<string, string> = {};
  let controller: AppController;
  let archive: LocalArchive;

  beforeAll(async () => {
    let archiveRoot: string;
    ({ controller, archiveRoot } = newController('ctl-filter'));
    const connection = controller.connectLocal(archiveRoot);
    if (connection.kind !== 'local') throw new Error('expected a local connection');
    archive = connection.archive;
    const files = makeTempDir('ctl-filter-files');
    for (const [label, name] of Object.entries(names)) {
      const source = label === 'lower' ? MR_SMALL : CT_SMALL;
      const changes = { [SpecificCharacterSet]: 'ISO_IR 192', [Tag.PatientName]: name, [Tag.PatientID]: label.toUpperCase(), [Tag.StudyDescription]: `Study of ${label}` };
      const outcome = await archive.importFile(freshCopy(source, path.join(files, `${label}.dcm`), changes), { copy: true });
      uidOf[label] = outcome.studyInstanceUid;
    }
  });

  afterAll(async () => {
    await controller.close();
  });

  const labelsOf = (uids: string[]) =>
    Object.keys(uidOf)
      .filter((label) => uids.includes(uidOf[label]))
      .sort();
  const filterLabels = (text: string) => labelsOf(controller.searchLocal(archive, text).map((row) => row.studyInstanceUid));
  const studiesLabels = (name: string) => labelsOf(archive.searchStudies({ name }).map((study) => study.studyInstanceUid));

  test('name matches as loader studies', () => {
    for (const text of ['Алена', 'алёна', 'иванов^иван', 'ПЁТР', 'петр^серг', 'Иван Иванов', 'lower', 'петров']) {
      expect({ text, labels: filterLabels(text) }).toEqual({ text, labels: studiesLabels(text) });
    }
    expect(filterLabels('Алена')).toEqual(['yolkina']);
    expect(filterLabels('иванов^иван')).toEqual(['ivanov']);
    expect(filterLabels('ПЁТР')).toEqual(['ivanov', 'petrov', 'petrova']);
  });

  test('other columns match as before', () => {
    expect(filterLabels('study of')).toEqual(Object.keys(names).sort());
    expect(filterLabels('OF YOLKINA')).toEqual(['yolkina']);
    expect(filterLabels('алена ct')).toEqual(['yolkina']);
    expect(filterLabels('lower mr')).toEqual(['lower']);
    expect(filterLabels('lower ct')).toEqual([]);
    const date = controller.searchLocal(archive, 'алена')[0].studyDate;
    expect(filterLabels(`алена ${date}`)).toEqual(['yolkina']);
    expect(filterLabels(`алена ${date.replace(/-/g, '')}`)).toEqual(['yolkina']);
  });
});

describe('Local panel deletion', () => {
  test('deletes only the selected study', async () => {
    const { controller, archiveRoot } = newController('ctl-delete');
    const source = makeTempDir('ctl-delete-files');
    const keep = freshCopy(CT_SMALL, path.join(source, 'keep.dcm'));
    const remove = freshCopy(MR_SMALL, path.join(source, 'remove.dcm'));
    const connection = controller.connectLocal(archiveRoot);
    if (connection.kind !== 'local') throw new Error('expected a local connection');
    const keptStudy = await connection.archive.importFile(keep, { copy: true });
    const deletedStudy = await connection.archive.importFile(remove, { copy: true });
    const deletedPath = connection.archive.listInstances({ studyInstanceUid: deletedStudy.studyInstanceUid })[0].path;

    try {
      const plan = await controller.planDeletion(connection.archive, [deletedStudy.studyInstanceUid]);
      expect(plan.studies.map((study) => study.study.studyInstanceUid)).toEqual([deletedStudy.studyInstanceUid]);
      expect(plan.instances).toBe(1);
      expect(plan.bytes).toBe(fs.statSync(deletedPath).size);
      expect(plan.inPlaceInstances).toBe(0);

      const report = await controller.deleteStudies(connection.archive, plan);

      expect(report.instances).toBe(1);
      expect(report.failures).toEqual([]);
      expect(fs.existsSync(deletedPath)).toBe(false);
      expect(controller.searchLocal(connection.archive).map((row) => row.studyInstanceUid)).toEqual([keptStudy.studyInstanceUid]);
    } finally {
      await controller.close();
    }
  });

  test('keeps files indexed in place', async () => {
    const { controller } = newController('ctl-delete-in-place');
    const folder = makeTempDir('ctl-delete-in-place-files');
    const file = freshCopy(CT_SMALL, path.join(folder, 'ct', 'image1.dcm'));
    const connection = controller.connectLocal(folder);
    if (connection.kind !== 'local') throw new Error('expected a local connection');

    try {
      await controller.scanLocal(connection.archive, folder, () => undefined);
      const [row] = controller.searchLocal(connection.archive);
      const plan = await controller.planDeletion(connection.archive, [row.studyInstanceUid]);
      expect(plan.inPlaceInstances).toBe(1);
      expect(plan.bytes).toBe(0);

      const report = await controller.deleteStudies(connection.archive, plan);

      expect(report.inPlaceInstances).toBe(1);
      expect(fs.existsSync(file)).toBe(true);
      expect(controller.searchLocal(connection.archive)).toEqual([]);
    } finally {
      await controller.close();
    }
  });

  test('selection keeps listed studies only', () => {
    const rows = [{ studyInstanceUid: '1.1' }, { studyInstanceUid: '1.3' }];
    expect(keptSelection(['1.1', '1.2', '1.3'], rows)).toEqual(['1.1', '1.3']);
    expect(keptSelection(['1.2'], rows)).toEqual([]);
  });
});

describe('window server with invalid host', () => {
  test('start rejected until fixed', async () => {
    const root = makeTempDir('ui-invalid-host');
    const configDir = path.join(root, 'config');
    const port = await freePort();
    fs.mkdirSync(configDir, { recursive: true });
    fs.writeFileSync(path.join(configDir, 'settings.json'), JSON.stringify({ pacs: { aeTitle: LOADER_AE, host: '999.1.1.1', port } }));
    const controller = new AppController({ configDir, archiveRoot: path.join(root, 'archive'), cacheDir: path.join(root, 'cache'), secretStore: new MemoryStore() });
    try {
      await expect(controller.startServer()).rejects.toThrow(/^pacs\.host "999\.1\.1\.1" is invalid.*The server does not start with the default "0\.0\.0\.0"/s);
      expect(controller.serverState().running).toBe(false);

      controller.updatePacs({ host: LOOPBACK });
      expect(await controller.startServer()).toMatchObject({ running: true, host: LOOPBACK, port });
    } finally {
      await controller.close();
    }
  });
});
