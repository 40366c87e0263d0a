/**
 * Text written as UTF-8 without Specific Character Set (0008,0005), as some
 * equipment writes Russian names: how the archive index and the C-FIND SCP
 * read it, and that the SCP still declares the character set of its responses.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { parseDataset } from '../../src/dicom/parser';
import { Tags } from '../../src/dicom/tags';
import { generateUid } from '../../src/dicom/uid';
import { encodeElements } from '../../src/dicom/writer';
import { LocalArchive, type QueryKey } from '../../src/services/archive';
import { setLogSink } from '../../src/services/logger';
import { decodeIdentifier, encodeMatch } from '../../src/services/pacs-server/identifier-codec';
import { writeSecondaryCapture } from '../support/secondary-capture';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const EXPLICIT = { explicitVr: true, littleEndian: true };
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

const UTF8_NAME = 'Кузнецов^Олег';
const UTF8_DESCRIPTION = 'Рентген';
/** 'Смирнов^Алексей' in windows-1251, which is not valid UTF-8. */
const CP1251_NAME = Buffer.from([0xd1, 0xec, 0xe8, 0xf0, 0xed, 0xee, 0xe2, 0x5e, 0xc0, 0xeb, 0xe5, 0xea, 0xf1, 0xe5, 0xe9]);

const writeFile = writeSecondaryCapture;

describe('archive index of undeclared UTF-8', () => {
  const utf8Study = generateUid();
  const ir6Study = generateUid();
  const cp1251Study = generateUid();
  let workDir: string;
  let archive: LocalArchive;
  let previousSink: (line: string) => void;

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'charset-undeclared-'));
    previousSink = setLogSink(() => undefined);
    archive = LocalArchive.open(path.join(workDir, 'archive'));

    const utf8File = path.join(workDir, 'utf8.dcm');
    writeFile(utf8File, utf8Study, 'RUNOCSUTF', [
      { tag: Tags.StudyDescription, vr: 'LO', value: Buffer.from(UTF8_DESCRIPTION, 'utf8') },
      { tag: Tags.PatientName, vr: 'PN', value: Buffer.from(UTF8_NAME, 'utf8') },
    ]);
    const ir6File = path.join(workDir, 'ir6.dcm');
    writeFile(ir6File, ir6Study, 'WRONG6', [
      { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 6' },
      { tag: Tags.PatientName, vr: 'PN', value: Buffer.from('Волков^Пётр', 'utf8') },
    ]);
    const cp1251File = path.join(workDir, 'cp1251.dcm');
    writeFile(cp1251File, cp1251Study, 'RU1251', [{ tag: Tags.PatientName, vr: 'PN', value: CP1251_NAME }]);

    for (const file of [utf8File, ir6File, cp1251File]) await archive.importFile(file, { copy: true });
  });

  afterAll(() => {
    archive.close();
    setLogSink(previousSink);
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  function findStudies(keys: QueryKey[]): Record<string, string>[] {
    return [...archive.findRecords('STUDY', keys, { model: 'STUDY' })];
  }

  test('name without character set', () => {
    const [study] = findStudies([{ keyword: 'PatientID', value: 'RUNOCSUTF' }, { keyword: 'PatientName', value: '' }, { keyword: 'StudyDescription', value: '' }]);

    expect(study.PatientName).toBe(UTF8_NAME);
    expect(study.StudyDescription).toBe(UTF8_DESCRIPTION);
  });

  test('lower-case name search finds it', () => {
    const studies = findStudies([{ keyword: 'PatientName', value: '*кузнецов*' }]);

    expect(studies.map((study) => study.StudyInstanceUID)).toEqual([utf8Study]);
  });

  test('name under ISO_IR 6', () => {
    const [study] = findStudies([{ keyword: 'PatientID', value: 'WRONG6' }, { keyword: 'PatientName', value: '' }]);

    expect(study.PatientName).toBe('Волков^Пётр');
  });

  test('invalid UTF-8 stays Latin-1', () => {
    const [study] = findStudies([{ keyword: 'PatientID', value: 'RU1251' }, { keyword: 'PatientName', value: '' }]);

    expect(study.PatientName).toBe(CP1251_NAME.toString('latin1'));
  });
});

describe('C-FIND SCP with undeclared UTF-8', () => {
  const identifier = encodeElements(
    [
      { tag: Tags.QueryRetrieveLevel, vr: 'CS', value: 'STUDY' },
      { tag: Tags.PatientName, vr: 'PN', value: Buffer.from('Кузнецов*', 'utf8') },
      { tag: Tags.StudyInstanceUID, vr: 'UI', value: '' },
    ],
    EXPLICIT,
  );

  test('request key decodes as UTF-8', () => {
    const request = decodeIdentifier(identifier, EXPLICIT_LE, 'latin1');

    expect(request.characterSets).toEqual([]);
    expect(request.keys[0]).toMatchObject({ keyword: 'PatientName', value: 'Кузнецов*' });
  });

  test('response declares ISO_IR 192', () => {
    const request = decodeIdentifier(identifier, EXPLICIT_LE, 'latin1');
    const response = encodeMatch(request, { PatientName: UTF8_NAME, StudyInstanceUID: '1.2.3' }, EXPLICIT_LE, 'LOADER');
    const dataset = parseDataset(response, EXPLICIT);

    expect(dataset.characterSets).toEqual(['ISO_IR 192']);
    expect(dataset.get(Tags.PatientName)?.value?.toString('utf8').trimEnd()).toBe(UTF8_NAME);
  });

  test('ISO_IR 100 response keeps its character set', () => {
    const latin1Identifier = encodeElements(
      [
        { tag: Tags.SpecificCharacterSet, vr: 'CS', value: 'ISO_IR 100' },
        { tag: Tags.QueryRetrieveLevel, vr: 'CS', value: 'STUDY' },
        { tag: Tags.PatientName, vr: 'PN', value: '' },
      ],
      EXPLICIT,
    );
    const request = decodeIdentifier(latin1Identifier, EXPLICIT_LE, 'latin1');
    const response = encodeMatch(request, { PatientName: 'Buc^Jérôme', StudyInstanceUID: '1.2.3' }, EXPLICIT_LE, 'LOADER');
    const dataset = parseDataset(response, EXPLICIT);

    expect(dataset.characterSets).toEqual(['ISO_IR 100']);
    expect(dataset.get(Tags.PatientName)?.value?.toString('latin1').trimEnd()).toBe('Buc^Jérôme');
  });
});
