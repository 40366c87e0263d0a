/**
 * compareContent on a private sequence of defined length: DCMTK writes it in
 * Explicit VR as SQ and in Implicit VR as a value of an unknown tag, which the
 * comparison reads as implicit VR items. Files are written by DCMTK's dump2dcm
 * and dcmconv, which keep the defined lengths of sequences and items.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { compareContent } from '../../src/services/archive/same-content';
import { makeTempDir, removeTempDir } from './fixtures';

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

const HEADER_LINES = [
  '(0008,0016) UI =SecondaryCaptureImageStorage',
  '(0008,0018) UI [1.2.826.0.1.3680043.2.1143.7001.1]',
  '(0020,000d) UI [1.2.826.0.1.3680043.2.1143.7001.2]',
  '(0020,000e) UI [1.2.826.0.1.3680043.2.1143.7001.3]',
  '(0029,0010) LO [ACME]',
];

/** Returns dump2dcm lines of sequence (0029,1000) with one item that contains `itemLines`. */
function privateSequence(itemLines: string[]): string[] {
  return [
    '(0029,1000) SQ (Sequence with explicit length #=1)',
    '(fffe,e000) na (Item with explicit length #=1)',
    '(0029,0010) LO [ACME]',
    ...itemLines,
    '(fffe,e00d) na (ItemDelimitationItem)',
    '(fffe,e0dd) na (SequenceDelimitationItem)',
  ];
}

const SIMPLE_ITEM = ['(0029,1001) US 5\\5'];

const NESTED_ITEM = [
  '(0029,1001) US 5\\5',
  '(0029,1002) SQ (Sequence with explicit length #=1)',
  '(fffe,e000) na (Item with explicit length #=1)',
  '(0029,0010) LO [ACME]',
  '(0029,1003) LO [INNER]',
  '(fffe,e00d) na (ItemDelimitationItem)',
  '(fffe,e0dd) na (SequenceDelimitationItem)',
];

describe('compareContent of a private sequence', () => {
  let workDir: string;

  beforeAll(() => {
    workDir = makeTempDir('same-content-sq-');
  });

  afterAll(() => {
    removeTempDir(workDir);
  });

  /** Writes the data set of `lines` in Explicit VR Little Endian with dump2dcm, which keeps defined lengths. */
  function writeExplicit(name: string, lines: string[]): string {
    const dump = path.join(workDir, `${name}.dump`);
    const target = path.join(workDir, `${name}-explicit.dcm`);
    fs.writeFileSync(dump, [...HEADER_LINES, ...lines, ''].join('\n'));
    execFileSync('dump2dcm', ['--write-xfer-little', dump, target], { stdio: 'pipe' });
    return target;
  }

  /** Writes `source` again in Implicit VR Little Endian with dcmconv, which keeps defined lengths. */
  function writeImplicit(source: string): string {
    const target = source.replace(/-explicit\.dcm$/, '-implicit.dcm');
    execFileSync('dcmconv', ['+ti', source, target], { stdio: 'pipe' });
    return target;
  }

  async function compare(stored: string, candidate: string): Promise<string> {
    return (await compareContent(stored, candidate, readDicomFileHeaderSync(candidate))).kind;
  }

  test('implicit copy is re-encoded', async () => {
    const explicit = writeExplicit('simple', privateSequence(SIMPLE_ITEM));
    const implicit = writeImplicit(explicit);
    expect(readDicomFileHeaderSync(explicit).transferSyntaxUid).toBe(EXPLICIT_LE);
    expect(readDicomFileHeaderSync(implicit).transferSyntaxUid).toBe(IMPLICIT_LE);

    expect(await compare(explicit, implicit)).toBe('re-encoded');
    expect(await compare(implicit, explicit)).toBe('re-encoded');
  });

  test('nested sequence is re-encoded', async () => {
    const explicit = writeExplicit('nested', privateSequence(NESTED_ITEM));
    const implicit = writeImplicit(explicit);

    expect(await compare(explicit, implicit)).toBe('re-encoded');
    expect(await compare(implicit, explicit)).toBe('re-encoded');
  });

  test('changed item value is different', async () => {
    const stored = writeExplicit('stored', privateSequence(SIMPLE_ITEM));
    const changed = writeImplicit(writeExplicit('changed', privateSequence(['(0029,1001) US 5\\6'])));

    expect(await compare(stored, changed)).toBe('different');
    expect(await compare(changed, stored)).toBe('different');
  });

  test('unreadable items are different', async () => {
    const explicit = writeExplicit('broken', privateSequence(SIMPLE_ITEM));
    const implicit = writeImplicit(explicit);
    const broken = path.join(workDir, 'broken-items-implicit.dcm');
    const bytes = fs.readFileSync(implicit);
    // The item header follows the sequence header, so raise its length past the end of the sequence.
    const itemOffset = bytes.indexOf(Buffer.from([0xfe, 0xff, 0x00, 0xe0]));
    expect(itemOffset).toBeGreaterThan(0);
    bytes.writeUInt32LE(bytes.readUInt32LE(itemOffset + 4) + 8, itemOffset + 4);
    fs.writeFileSync(broken, bytes);

    expect(await compare(explicit, broken)).toBe('different');
    expect(await compare(broken, explicit)).toBe('different');
  });
});
