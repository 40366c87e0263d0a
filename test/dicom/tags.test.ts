import { isPrivateCreator, isPrivateTag, lookupKeyword, lookupVr, Tags } from '../../src/dicom/tags';

describe('lookupVr', () => {
  test.each([
    [Tags.PatientName, 'PN'],
    [Tags.StudyInstanceUID, 'UI'],
    [Tags.QueryRetrieveLevel, 'CS'],
    [Tags.NumberOfStudyRelatedInstances, 'IS'],
    [Tags.ContentSequence, 'SQ'],
    [Tags.Rows, 'US'],
    [Tags.FileMetaInformationVersion, 'OB'],
    [Tags.ReferencedFileID, 'CS'],
  ])('standard tag %d', (tag, vr) => {
    expect(lookupVr(tag)).toBe(vr);
  });

  test('group length is UL', () => {
    expect(lookupVr(0x00080000)).toBe('UL');
    expect(lookupVr(0x00100000)).toBe('UL');
    expect(lookupVr(0x00090000)).toBe('UL');
  });

  test('private creator is LO', () => {
    expect(lookupVr(0x00090010)).toBe('LO');
    expect(lookupVr(0x002900ff)).toBe('LO');
  });

  test('private data element is UN', () => {
    expect(lookupVr(0x00091001)).toBe('UN');
    expect(lookupVr(0x00290100)).toBe('UN');
  });

  test('repeating groups resolve', () => {
    expect(lookupVr(0x60003000)).toBe('OW');
    expect(lookupVr(0x60020010)).toBe('US');
    expect(lookupVr(0x60000022)).toBe('LO');
    expect(lookupVr(0x50020005)).toBe('US');
  });

  test('context-dependent VRs resolve', () => {
    expect(lookupVr(Tags.PixelData)).toBe('OW');
    expect(lookupVr(0x00280106)).toBe('US');
  });

  test('unknown standard tag is UN', () => {
    expect(lookupVr(0x0008abcd)).toBe('UN');
  });
});

describe('tag helpers', () => {
  test('private tag detection', () => {
    expect(isPrivateTag(0x00091001)).toBe(true);
    expect(isPrivateTag(Tags.PatientName)).toBe(false);
    expect(isPrivateCreator(0x00090010)).toBe(true);
    expect(isPrivateCreator(0x00091010)).toBe(false);
    expect(isPrivateCreator(0x00100010)).toBe(false);
  });

  test('keyword lookup', () => {
    expect(lookupKeyword(Tags.ModalitiesInStudy)).toBe('ModalitiesInStudy');
    expect(lookupKeyword(0x00091001)).toBeUndefined();
  });
});
