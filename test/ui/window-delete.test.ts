/**
 * Deleting studies from the window in Russian under Xvfb. The Local panel's
 * Delete button and the Delete key on its table open a confirmation that
 * names the patient and the counts. Return there cancels, and OK deletes the
 * study from the archive. A PACS panel has no Delete. The PACS panel starts
 * with the first registered node, or empty with a hint when none is registered.
 * A scan of a folder with a DICOMDIR counts the files that it does not reference.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import type { WidgetRecord } from '../../src/ui/test-hooks';
import { translator } from '../../src/ui/i18n';
import { CT_SMALL, MR_SMALL, freshCopy } from '../archive/fixtures';
import { makeTempDir, runLoader } from '../support/peers';
import type { LoaderDirs } from '../support/peers';
import { describeWhenGuiAvailable } from './gui-prerequisites';
import { corpusStudyFiles, sleep, useWindowSession } from './window-driver';

const describeWithGui = describeWhenGuiAvailable('test/ui/window-delete', ['Xvfb', 'xdotool', 'import', 'dcmmkdir']);

const ru = translator('ru');

/** Column of the patient name in the study table. */
const NAME_COLUMN = 0;

function patientNames(table: WidgetRecord | undefined): string[] {
  return (table?.cellTexts ?? []).map((row) => row[NAME_COLUMN] ?? '');
}

/** Returns the Study Instance UIDs that `loader studies --json` lists for the archive of `dirs`. */
async function archivedStudyUids(dirs: LoaderDirs): Promise<string[]> {
  const listed = await runLoader(['studies', '--json'], { dirs });
  if (listed.code !== 0) throw new Error(`loader studies --json failed with code ${listed.code}: ${listed.stderr}`);
  return (JSON.parse(listed.stdout) as { studyInstanceUid: string }[]).map((study) => study.studyInstanceUid).sort();
}

describeWithGui('window deletes studies', () => {
  const session = useWindowSession('delete', {
    language: 'ru',
    // Three studies in the archive, which the Local panel lists at start. No PACS node is registered.
    prepare: async ({ dirs }) => {
      for (const name of ['ct-small.dcm', 'mr-small-explicit-le.dcm', 'siemens-csa.dcm']) {
        const imported = await runLoader(['scan', '--import', ...corpusStudyFiles(name)], { dirs });
        if (imported.code !== 0) throw new Error(`loader scan --import of ${name} failed: ${imported.stderr.slice(-1000)}`);
      }
    },
  });

  test('PACS panel starts empty with hint', async () => {
    const { driver } = session;
    const label = await driver.waitFor('left-connection', (record) => (record.text ?? '').startsWith('Не подключено'), 15_000, 'not connected');
    expect(label.text).toBe(`Не подключено — ${ru('panel.noPacsNodes')}`);
    for (const field of ['left-host', 'left-port', 'left-aet']) expect({ field, text: driver.widget(field)?.text }).toEqual({ field, text: '' });
    expect(driver.widget('left-delete')).toBeUndefined();
  }, 60_000);

  test('Return cancels the dialog', async () => {
    const { driver } = session;
    await driver.waitFor('right-table', (table) => table.rows === 3, 30_000, '3 rows');
    expect(driver.widget('right-delete')?.enabled).toBe(false);

    await driver.focusByKey('right-table');
    driver.key('Down');
    const selected = await driver.waitFor('right-table', (table) => (table.selectedRows ?? []).join() === '0', 5_000, 'row 0 selected');
    const name = patientNames(selected)[0];
    await driver.waitForStill('right-delete');
    await driver.click('right-delete');
    await driver.waitForActiveWindow('delete-dialog', 15_000);

    const text = driver.widget('delete-dialog-text')?.text ?? '';
    expect(text).toMatch(/^Удалить из .+ исследования\? Исследований: 1, снимков: \d+, объём: [\d.]+ (B|KiB|MiB)\.\nПациенты:\n/);
    expect(text).toContain(`\n${name}, ID пациента `);
    expect(text).toMatch(/\nОтменить удаление нельзя\.$/);
    // Cancel has the focus, so Return keeps the study.
    await driver.waitFor('delete-dialog-cancel', (button) => button.focused, 5_000, 'Cancel focused');
    driver.key('Return');
    await driver.waitForGone('delete-dialog');
    expect(driver.widget('right-table')?.rows).toBe(3);
    expect(await archivedStudyUids(session.dirs)).toHaveLength(3);
  }, 60_000);

  test('Delete key deletes the study', async () => {
    const { driver } = session;
    const before = await archivedStudyUids(session.dirs);
    await driver.waitForActiveWindow('main-window');
    await driver.focusByKey('right-table');
    const name = patientNames(driver.widget('right-table'))[(driver.widget('right-table')?.selectedRows ?? [])[0] ?? -1];
    expect(name).toBeDefined();
    driver.key('Delete');
    await driver.waitForActiveWindow('delete-dialog', 15_000);
    await driver.click('delete-dialog-ok');
    await driver.waitForGone('delete-dialog');

    const done = await driver.waitFor('status-text', (label) => /^Удалено исследований/.test(label.toolTip || label.text || ''), 15_000, 'deletion finished');
    expect(done.toolTip || done.text).toMatch(/^Удалено исследований: 1, снимков: \d+, освобождено: [\d.]+ (B|KiB|MiB)$/);
    const table = await driver.waitFor('right-table', (record) => record.rows === 2, 10_000, '2 rows');
    expect(patientNames(table)).not.toContain(name);
    // The deleted study leaves the selection, and no other study joins it.
    expect(table.selectedRows).toEqual([]);
    await driver.waitFor('right-selection', (label) => label.text === 'Исследований: 2, выбрано: 0', 5_000, 'none selected');
    expect(driver.widget('right-delete')?.enabled).toBe(false);
    const after = await archivedStudyUids(session.dirs);
    expect(after).toHaveLength(2);
    expect(before.filter((uid) => !after.includes(uid))).toHaveLength(1);
    // The study's folder in the archive is gone with its files.
    const deletedUid = before.find((uid) => !after.includes(uid))!;
    expect(fs.existsSync(path.join(session.dirs.archiveDir, deletedUid))).toBe(false);
    for (const uid of after) expect(fs.existsSync(path.join(session.dirs.archiveDir, uid))).toBe(true);
    expect(session.loader.readLog()).toMatch(/studies deleted from the window/);
  }, 60_000);

  test('Delete in the filter edits text', async () => {
    const { driver } = session;
    await driver.typeInto('right-filter', 'xyz');
    driver.key('Home', 'Delete');
    await driver.waitFor('right-filter', (field) => field.text === 'yz', 5_000, 'text "yz"');
    await sleep(500);
    expect(driver.widget('delete-dialog')).toBeUndefined();
    expect(driver.widget('right-table')?.rows).toBe(0);
  }, 60_000);
});

describeWithGui('window scan of DICOM media', () => {
  const folder = makeTempDir('ui-delete-media');
  const session = useWindowSession('delete-media', {
    language: 'ru',
    prepare: () => {
      freshCopy(CT_SMALL, path.join(folder, 'IMAGES', 'IM1'));
      execFileSync('dcmmkdir', ['+r', '-Pgp', '+I', 'IMAGES'], { cwd: folder, stdio: 'pipe' });
      // Written after the DICOMDIR, so none of its records references them: a DICOM file and a viewer's text file.
      freshCopy(MR_SMALL, path.join(folder, 'IMAGES', 'IM2'));
      fs.writeFileSync(path.join(folder, 'README.TXT'), 'Open the images with the viewer on this disc.\n');
      return Promise.resolve();
    },
  });

  // A folder with a DICOMDIR and no index is media: the panel reads it into an index in memory and writes nothing to it.
  test('status counts unreferenced files', async () => {
    const { driver } = session;
    await driver.waitFor('right-connection', (label) => /^Подключено/.test(label.text ?? ''), 30_000, 'the window archive connected');
    await driver.typeInto('right-path', folder);
    driver.key('Return');
    await driver.waitFor('right-connection', (label) => label.text === `Подключено, только чтение: ${folder}`, 10_000, 'the folder connected');

    const finished = await driver.waitFor('status-text', (label) => /^Диск прочитан/.test(label.toolTip || label.text || ''), 30_000, 'disc read');
    expect(finished.toolTip || finished.text).toBe(
      'Диск прочитан, на него ничего не записано. Файлов: 1, снимков: 1, не сканировано файлов, на которые не ссылается ни одна запись DICOMDIR: 2, ' +
        'из них начинаются с DICM, и в DICOMDIR может не хватать их записей: 1. Выберите исследования и отправьте их в панель архива или нажмите «Загрузить с диска…»',
    );
    expect(fs.readdirSync(folder).sort()).toEqual(['DICOMDIR', 'IMAGES', 'README.TXT']);
  }, 60_000);
});

describeWithGui('PACS panel with a registered node', () => {
  const session = useWindowSession('delete-node', {
    language: 'en',
    prepare: async ({ dirs }) => {
      for (const [name, port] of [['first', '11112'], ['second', '11113']]) {
        const added = await runLoader(['nodes', 'add', name, '--aet', `${name.toUpperCase()}PACS`, '--host', '127.0.0.1', '--port', port, '--login', 'reader'], { dirs });
        if (added.code !== 0) throw new Error(`loader nodes add ${name} failed: ${added.stderr}`);
      }
    },
  });

  test('starts with the first node', async () => {
    const { driver } = session;
    await driver.waitFor('left-host', (field) => field.text === '127.0.0.1', 15_000, 'the first node host');
    expect(driver.widget('left-port')?.text).toBe('11112');
    expect(driver.widget('left-aet')?.text).toBe('FIRSTPACS');
    expect(driver.widget('left-login')?.text).toBe('reader');
    expect(driver.widget('left-password')?.text).toBe('');
    expect(driver.widget('left-connection')?.text).toBe('Not connected');
  }, 60_000);
});
