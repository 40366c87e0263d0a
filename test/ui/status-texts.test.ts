/**
 * Status bar texts of sends, retrieves and scans in both languages: a send
 * counts instances sent, and a scan names each kind of problem apart. The
 * send dialog names the patients of the selected studies.
 */
import { progressText, scanDoneText, selectedPatientsText, transferResultText } from '../../src/ui/components/status-texts';
import { deletionConfirmText, deletionFailures, deletionResultText } from '../../src/ui/components/deletion-texts';
import type { DeletionPlan, DeletionReport, StudyToDelete } from '../../src/services/archive';
import type { StudySummary } from '../../src/services/archive/catalog';
import { translator } from '../../src/ui/i18n';

const en = translator('en');
const ru = translator('ru');

const FAILED_SEND = { instances: 0, failures: [{ uid: '1.2.3', reason: 'association with PACS failed: connection refused' }], outcome: 'failure' as const };
const NO_PROBLEMS = { duplicates: 0, damaged: 0, unreadable: 0, notDicom: 0, conflicts: 0, missing: 0, specialFiles: 0, unreferenced: 0, unreferencedDicomLike: 0 };

describe('transfer texts', () => {
  test('failed send counts instances sent', () => {
    expect(transferResultText(ru, 'send', FAILED_SEND)).toBe('Отправка не удалась. Отправлено снимков: 0, проблем: 1; список ниже');
    expect(transferResultText(en, 'send', FAILED_SEND)).toBe('Send failed: 0 instances sent, 1 problem; see the list below');
  });

  test('partial send counts instances sent', () => {
    const partial = { ...FAILED_SEND, instances: 2, outcome: 'partial' as const };
    expect(transferResultText(ru, 'send', partial)).toBe('Отправка не завершена. Отправлено снимков: 2, проблем: 1; список ниже');
    expect(transferResultText(en, 'send', partial)).toBe('Incomplete: 2 instances sent, 1 problem; see the list below');
  });

  test('failed retrieve counts instances received', () => {
    expect(transferResultText(ru, 'retrieve', FAILED_SEND)).toBe('Передача не удалась: получено снимков 0, проблем 1; список ниже');
  });

  test('progress names the direction', () => {
    const progress = { studiesDone: 0, studiesTotal: 1, instancesDone: 0, instancesTotal: 1 };
    expect(progressText(ru, 'send', progress)).toEqual({ text: 'Исследований: 0/1, отправлено снимков: 0, 0%', percent: 0 });
    expect(progressText(ru, 'retrieve', progress)).toEqual({ text: 'Исследований: 0/1, получено снимков: 0, 0%', percent: 0 });
    expect(progressText(en, 'retrieve', progress).text).toBe('Studies 0/1, instances received 0, 0%');
  });
});

describe('scan texts', () => {
  test('missing and special files apart from damaged', () => {
    const summary = { ...NO_PROBLEMS, scanned: 3, indexed: 2, missing: 1, specialFiles: 1 };
    expect(scanDoneText(ru, summary)).toBe('Сканирование завершено. Файлов: 3, проиндексировано: 2, отсутствует: 1, специальных файлов: 1');
    expect(scanDoneText(en, summary)).toBe('Scan finished: 3 files, 2 indexed, 1 missing, 1 special file');
  });

  test('duplicates apart from indexed', () => {
    const summary = { ...NO_PROBLEMS, scanned: 2300, indexed: 230, duplicates: 2070 };
    expect(scanDoneText(ru, summary)).toBe('Сканирование завершено. Файлов: 2300, проиндексировано: 230, уже в архиве: 2070');
    expect(scanDoneText(en, summary)).toBe('Scan finished: 2300 files, 230 indexed, 2070 already in the archive');
  });

  test('every problem kind listed', () => {
    const summary = { scanned: 9, indexed: 1, duplicates: 1, damaged: 1, unreadable: 1, notDicom: 1, conflicts: 1, missing: 1, specialFiles: 2, unreferenced: 3, unreferencedDicomLike: 1 };
    expect(scanDoneText(en, summary)).toBe(
      'Scan finished: 9 files, 1 indexed, 1 already in the archive, 1 damaged, 1 unreadable, 1 not DICOM, 1 not indexed because of a conflict, 1 missing, ' +
        '3 files that no DICOMDIR record references, not scanned, 1 of them starts with DICM, so the DICOMDIR may lack its record, 2 special files',
    );
  });

  test('DICOMDIR gap counted in both languages', () => {
    const summary = { ...NO_PROBLEMS, scanned: 4, indexed: 4, unreferenced: 5, unreferencedDicomLike: 2 };
    expect(scanDoneText(ru, summary)).toBe(
      'Сканирование завершено. Файлов: 4, проиндексировано: 4, не сканировано файлов, на которые не ссылается ни одна запись DICOMDIR: 5, ' +
        'из них начинаются с DICM, и в DICOMDIR может не хватать их записей: 2',
    );
    expect(scanDoneText(en, summary)).toBe(
      'Scan finished: 4 files, 4 indexed, 5 files that no DICOMDIR record references, not scanned, 2 of them start with DICM, so the DICOMDIR may lack their records',
    );
    expect(scanDoneText(en, { ...summary, unreferencedDicomLike: 0 })).toBe('Scan finished: 4 files, 4 indexed, 5 files that no DICOMDIR record references, not scanned');
  });
});

describe('send dialog patients', () => {
  const row = (uid: string, patientName: string, patientId: string) => ({ studyInstanceUid: uid, patientName, patientId });
  const rows = [
    row('1.1', 'Иванов Иван Петрович', 'LDR-0027'),
    row('1.2', 'Иванов Иван Петрович', 'LDR-0027'),
    row('1.3', 'Petrov Petr', 'P-2'),
    row('1.4', 'Sidorov', 'P-3'),
    row('1.5', 'Smith John', 'P-4'),
    row('1.6', 'Doe Jane', 'P-5'),
    row('1.7', '', ''),
  ];

  test('one patient of two studies', () => {
    expect(selectedPatientsText(ru, rows, ['1.1', '1.2'])).toBe('Пациенты:\nИванов Иван Петрович, ID пациента LDR-0027');
    expect(selectedPatientsText(en, rows, ['1.1', '1.2'])).toBe('Patients:\nИванов Иван Петрович, Patient ID LDR-0027');
  });

  test('three patients in selection order', () => {
    expect(selectedPatientsText(en, rows, ['1.4', '1.1', '1.3'])).toBe('Patients:\nSidorov, Patient ID P-3\nИванов Иван Петрович, Patient ID LDR-0027\nPetrov Petr, Patient ID P-2');
  });

  test('patients after the third are counted', () => {
    const uids = ['1.1', '1.2', '1.3', '1.4', '1.5', '1.6'];
    expect(selectedPatientsText(ru, rows, uids)).toBe('Пациенты:\nИванов Иван Петрович, ID пациента LDR-0027\nPetrov Petr, ID пациента P-2\nSidorov, ID пациента P-3\nи ещё пациентов: 2');
    expect(selectedPatientsText(en, rows, uids)).toBe('Patients:\nИванов Иван Петрович, Patient ID LDR-0027\nPetrov Petr, Patient ID P-2\nSidorov, Patient ID P-3\nand 2 more patients');
    expect(selectedPatientsText(en, rows, uids.slice(0, 5))).toMatch(/\nand 1 more patient$/);
  });

  test('empty name and Patient ID are named', () => {
    expect(selectedPatientsText(ru, rows, ['1.7'])).toBe('Пациенты:\n(без имени), ID пациента (пусто)');
    expect(selectedPatientsText(en, rows, ['1.7'])).toBe('Patients:\n(no name), Patient ID (empty)');
  });

  test('unknown UIDs give no text', () => {
    expect(selectedPatientsText(en, rows, ['9.9'])).toBe('');
  });
});

describe('deletion texts', () => {
  const study = (uid: string, patientName: string, patientId: string, instances: number): StudyToDelete => ({
    study: { studyInstanceUid: uid, patientName, patientId } as StudySummary,
    wholeStudy: true,
    series: [],
    instances,
    bytes: instances * 1024 * 1024,
    inPlaceInstances: 0,
  });
  const plan = (studies: StudyToDelete[], changes: Partial<DeletionPlan> = {}): DeletionPlan => ({
    studies,
    missingStudyInstanceUids: [],
    missingSeriesInstanceUids: [],
    instances: studies.reduce((total, entry) => total + entry.instances, 0),
    bytes: studies.reduce((total, entry) => total + entry.bytes, 0),
    inPlaceInstances: 0,
    keptCopies: [],
    ...changes,
  });
  const fourPatients = [study('1.1', 'Иванов^Иван', 'LDR-1', 2), study('1.2', 'Petrov^Petr', 'P-2', 1), study('1.3', 'Sidorov', 'P-3', 1), study('1.4', 'Smith^John', 'P-4', 1)];

  test('confirmation names three patients', () => {
    expect(deletionConfirmText(en, plan(fourPatients), '/data/archive')).toBe(
      'Delete 4 studies, 5 instances (5.0 MiB), from /data/archive?\n' +
        'Patients:\nИванов Иван, Patient ID LDR-1\nPetrov Petr, Patient ID P-2\nSidorov, Patient ID P-3\nand 1 more patient\n' +
        'The deletion cannot be undone.',
    );
    expect(deletionConfirmText(ru, plan(fourPatients.slice(0, 1)), '/data/archive')).toBe(
      'Удалить из /data/archive исследования? Исследований: 1, снимков: 2, объём: 2.0 MiB.\nПациенты:\nИванов Иван, ID пациента LDR-1\nОтменить удаление нельзя.',
    );
  });

  test('confirmation names in-place files and copies', () => {
    const withFiles = plan(fourPatients.slice(1, 2), { inPlaceInstances: 1, keptCopies: [{ path: '/data/archive/.conflicts/x.dcm', size: 2048 }] });
    const english = deletionConfirmText(en, withFiles, '/data/folder');
    expect(english).toContain('\n1 instance is indexed in place: the index no longer lists it, and its file outside the archive folder stays. A later scan of the folder indexes it again.\n');
    expect(english).toContain('\n1 copy kept aside in .conflicts for these UIDs (2.0 KiB) is deleted too.\n');
    const russian = deletionConfirmText(ru, withFiles, '/data/folder');
    expect(russian).toContain('\nСнимков, проиндексированных на месте: 1.');
    expect(russian).toContain('\nКопии, отложенные в .conflicts для этих UID, тоже удаляются. Копий: 1, объём: 2.0 KiB.\n');
  });

  const report = (changes: Partial<DeletionReport> = {}): DeletionReport => ({
    studies: [{ studyInstanceUid: '1.1', wholeStudy: true, seriesInstanceUids: ['1.1.1'], instances: 2, bytes: 3 * 1024 * 1024, remainingInstances: 0 }],
    instances: 2,
    files: 2,
    bytes: 3 * 1024 * 1024,
    inPlaceInstances: 0,
    keptCopies: 0,
    keptCopyBytes: 0,
    failures: [],
    ...changes,
  });

  test('outcome counts what was removed', () => {
    expect(deletionResultText(en, report())).toBe('Deleted 1 study: 2 instances, 3.0 MiB freed');
    expect(deletionResultText(ru, report())).toBe('Удалено исследований: 1, снимков: 2, освобождено: 3.0 MiB');
  });

  test('outcome lists every other count', () => {
    const studies = [{ ...report().studies[0], remainingInstances: 1 }];
    const failures = [{ path: '/data/archive/1.1/1.1.1/a.dcm', error: 'EACCES: permission denied' }];
    const partial = report({ studies, inPlaceInstances: 1, keptCopies: 2, failures });
    expect(deletionResultText(en, partial)).toBe(
      'Deleted 1 study: 2 instances, 3.0 MiB freed, 1 indexed in place, whose files stay, 2 kept copies removed from .conflicts, ' +
        '1 study received new instances during the deletion and stays listed, 1 file not removed, retried when the archive is next opened; see the list below',
    );
    expect(deletionResultText(ru, partial)).toBe(
      'Удалено исследований: 1, снимков: 2, освобождено: 3.0 MiB, проиндексировано на месте, файлы остались: 1, удалено отложенных копий из .conflicts: 2, ' +
        'исследований, получивших новые снимки во время удаления и оставшихся в списке: 1, не удалено файлов (повтор при следующем открытии архива): 1; список ниже',
    );
    expect(deletionFailures(partial)).toEqual([{ uid: '/data/archive/1.1/1.1.1/a.dcm', reason: 'EACCES: permission denied' }]);
  });
});
