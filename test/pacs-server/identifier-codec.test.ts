/**
 * Request identifiers and C-FIND responses of the PACS server: keys sent as
 * UN by a requester that does not know them, and the Specific Character Set
 * of a response.
 */
import { parseDataset } from '../../src/dicom/parser';
import { encodeElements } from '../../src/dicom/writer';
import { chooseResponseCharacterSets, decodeIdentifier, encodeMatch } from '../../src/services/pacs-server/identifier-codec';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const EXPLICIT = { explicitVr: true, littleEndian: true };

describe('decodeIdentifier with UN keys', () => {
  const identifier = encodeElements(
    [
      { tag: 0x00080052, vr: 'CS', value: 'STUDY' },
      // Referenced Study Sequence, zero-length, as a requester without it in its dictionary sends it.
      { tag: 0x00081110, vr: 'UN', value: Buffer.alloc(0) },
      { tag: 0x00100010, vr: 'UN', value: Buffer.from('Smith*') },
      { tag: 0x0020000d, vr: 'UI', value: '' },
    ],
    EXPLICIT,
    [],
  );

  test('UN sequence key left out', () => {
    const request = decodeIdentifier(identifier, EXPLICIT_LE, 'latin1');

    expect(request.keys.map((key) => key.keyword)).toEqual(['PatientName', 'StudyInstanceUID']);
  });

  test('UN text key takes its dictionary VR', () => {
    const request = decodeIdentifier(identifier, EXPLICIT_LE, 'latin1');

    expect(request.keys[0]).toMatchObject({ keyword: 'PatientName', vr: 'PN', value: 'Smith*' });
  });

  test('response to a UN sequence key encodes', () => {
    const request = decodeIdentifier(identifier, EXPLICIT_LE, 'latin1');
    const response = encodeMatch(request, { PatientName: 'Smith^John', StudyInstanceUID: '1.2.3' }, EXPLICIT_LE, 'LOADER');
    const dataset = parseDataset(response, EXPLICIT);

    expect(dataset.getString(0x00100010)).toBe('Smith^John');
    expect(dataset.get(0x00081110)).toBeUndefined();
  });
});

describe('chooseResponseCharacterSets', () => {
  test.each<[string, string[], string[], string[]]>([
    ['ASCII without request', ['Smith'], [], []],
    ['ASCII keeps the request', ['Smith'], ['ISO_IR 100'], ['ISO_IR 100']],
    ['Latin-1 in the request', ['Müller'], ['ISO_IR 100'], ['ISO_IR 100']],
    ['Cyrillic beyond the request', ['Иванов'], ['ISO_IR 100'], ['ISO_IR 192']],
    ['ISO 2022 request', ['山田'], ['', 'ISO 2022 IR 87'], ['', 'ISO 2022 IR 87']],
    ['unknown request, ASCII', ['Smith'], ['ISO_IR 999'], []],
    ['unknown request, Cyrillic', ['Иванов'], ['ISO_IR 999'], ['ISO_IR 192']],
    ['unknown second term, ASCII', ['Smith'], ['', 'ISO 2022 IR 999'], []],
  ])('%s', (_case, values, requested, expected) => {
    expect(chooseResponseCharacterSets(values, requested)).toEqual(expected);
  });
});
