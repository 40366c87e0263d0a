import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { DicomParseError } from '../../src/dicom/parser';
import { locateDataset, NotDicomError, readDicomFileHeader, readDicomFileHeaderSync } from '../../src/dicom/file-reader';
import { Tags } from '../../src/dicom/tags';
import { TransferSyntax } from '../../src/dicom/uid';
import { normalizeDate } from '../../src/dicom/values';
import { describeWithSamples, haveTool, makeTempDir, removeTempDir, testFile } from './fixtures';

describeWithSamples('readDicomFileHeader on samples', () => {
  test('CT_small header', async () => {
    const header = await readDicomFileHeader(testFile('CT_small.dcm'));
    expect(header.hasPreamble).toBe(true);
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
    expect(header.meta.getString(Tags.MediaStorageSOPClassUID)).toBe('1.2.840.10008.5.1.4.1.1.2');
    const { dataset } = header;
    expect(dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
    expect(dataset.getString(Tags.PatientID)).toBe('1CT1');
    expect(dataset.getString(Tags.StudyInstanceUID)).toBe('1.3.6.1.4.1.5962.1.2.1.20040119072730.12322');
    expect(dataset.getString(Tags.SeriesInstanceUID)).toBe('1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322');
    expect(dataset.getString(Tags.SOPInstanceUID)).toBe('1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322');
    expect(dataset.getString(Tags.Modality)).toBe('CT');
    expect(dataset.getString(Tags.StudyDate)).toBe('20040119');
    expect(dataset.getString(Tags.PatientBirthDate)).toBe('');
    expect(dataset.getNumber(Tags.Rows)).toBe(128);
  });

  test('CT_small stops before pixel data', async () => {
    const header = await readDicomFileHeader(testFile('CT_small.dcm'));
    expect(header.hasPixelData).toBe(true);
    expect(header.dataset.has(Tags.PixelData)).toBe(false);
    const fileBytes = fs.readFileSync(testFile('CT_small.dcm'));
    expect(header.pixelDataOffset).toBeDefined();
    expect(fileBytes.readUInt32LE(header.pixelDataOffset!)).toBe(0x00107fe0);
    expect(fileBytes.toString('latin1', 128, 132)).toBe('DICM');
    // The data set starts right after group 0002: its first tag is in a higher group.
    expect(fileBytes.readUInt16LE(header.datasetOffset)).toBeGreaterThan(0x0002);
  });

  test('sync twin matches async', async () => {
    const asyncHeader = await readDicomFileHeader(testFile('CT_small.dcm'));
    const syncHeader = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    expect(syncHeader.datasetOffset).toBe(asyncHeader.datasetOffset);
    expect([...syncHeader.dataset.elements.keys()]).toEqual([...asyncHeader.dataset.elements.keys()]);
    expect(syncHeader.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
  });

  test('sync values survive later reads', () => {
    const first = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    readDicomFileHeaderSync(testFile('MR_small.dcm'));
    expect(first.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
    expect(first.meta.getString(Tags.TransferSyntaxUID)).toBe(TransferSyntax.ExplicitVRLittleEndian);
  });

  test('borrowed buffer gives same values', () => {
    const copied = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    const borrowed = readDicomFileHeaderSync(testFile('CT_small.dcm'), { borrowBuffer: true });
    expect([...borrowed.dataset.elements.keys()]).toEqual([...copied.dataset.elements.keys()]);
    for (const [tag, element] of copied.dataset.elements) {
      // Sequences have items instead of a value.
      const borrowedValue = borrowed.dataset.get(tag)?.value;
      if (element.value === undefined) expect(borrowedValue).toBeUndefined();
      else expect(borrowedValue?.equals(element.value)).toBe(true);
    }
    expect(borrowed.meta.getString(Tags.TransferSyntaxUID)).toBe(TransferSyntax.ExplicitVRLittleEndian);
    expect(borrowed.datasetOffset).toBe(copied.datasetOffset);
  });

  test('MR_small_bigendian header', async () => {
    const header = await readDicomFileHeader(testFile('MR_small_bigendian.dcm'));
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRBigEndian);
    expect(header.dataset.encoding.littleEndian).toBe(false);
    expect(header.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^MR1');
    expect(header.dataset.getString(Tags.PatientID)).toBe('4MR1');
    expect(header.dataset.getString(Tags.StudyInstanceUID)).toBe('1.3.6.1.4.1.5962.1.2.4.20040826185059.5457');
    expect(header.dataset.getNumber(Tags.Rows)).toBe(64);
    expect(header.dataset.getStrings(Tags.PixelSpacing)).toEqual(['0.3125', '0.3125']);
    expect(header.hasPixelData).toBe(true);
  });

  test('implicit VR little endian header', async () => {
    const header = await readDicomFileHeader(testFile('MR_small_implicit.dcm'));
    expect(header.dataset.encoding.explicitVr).toBe(false);
    expect(header.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^MR1');
    expect(header.dataset.get(Tags.PatientName)?.vr).toBe('PN');
    expect(header.warnings).toEqual([]);
  });

  test('deflated header', async () => {
    const header = await readDicomFileHeader(testFile('image_dfl.dcm'));
    expect(header.transferSyntaxUid).toBe(TransferSyntax.DeflatedExplicitVRLittleEndian);
    expect(header.dataset.getString(Tags.Modality)).toBe('OT');
    expect(header.dataset.getString(Tags.StudyInstanceUID)).toBe('1.3.6.1.4.1.5962.1.2.0.977067310.6001.0');
    expect(header.dataset.getNumber(Tags.Rows)).toBe(512);
    expect(header.hasPixelData).toBe(true);
    expect(header.pixelDataOffset).toBeUndefined();
  });

  test('deflated header from partial inflate', async () => {
    const dir = makeTempDir();
    try {
      // Padding the file past the first read shows that only a prefix of the deflate stream is inflated.
      const bytes = fs.readFileSync(testFile('image_dfl.dcm'));
      const padded = path.join(dir, 'padded_dfl.dcm');
      fs.writeFileSync(padded, Buffer.concat([bytes, Buffer.alloc(256 * 1024)]));
      const header = readDicomFileHeaderSync(padded);
      expect(header.dataset.getNumber(Tags.Columns)).toBe(512);
    } finally {
      removeTempDir(dir);
    }
  });

  test.each([
    ['JPEG2000.dcm', TransferSyntax.JPEG2000, 'CompressedSamples^NM1'],
    ['MR_small_jp2klossless.dcm', TransferSyntax.JPEG2000Lossless, 'CompressedSamples^MR1'],
    ['MR_small_RLE.dcm', TransferSyntax.RLELossless, 'CompressedSamples^MR1'],
    ['SC_rgb_rle_2frame.dcm', TransferSyntax.RLELossless, 'Lestrade^G'],
    ['JPGExtended.dcm', TransferSyntax.JPEGExtended12Bit, 'CompressedSamples^NM1'],
    ['MR_small_jpeg_ls_lossless.dcm', TransferSyntax.JPEGLSLossless, 'CompressedSamples^MR1'],
  ])('%s header only', async (file, transferSyntax, patientName) => {
    const header = await readDicomFileHeader(testFile(file));
    expect(header.transferSyntaxUid).toBe(transferSyntax);
    expect(header.dataset.getString(Tags.PatientName)).toBe(patientName);
    expect(header.hasPixelData).toBe(true);
    expect(header.dataset.has(Tags.PixelData)).toBe(false);
  });

  test('encapsulated pixel data is skipped when read', async () => {
    const header = await readDicomFileHeader(testFile('MR_small_RLE.dcm'), { stopAtTag: null });
    const pixelData = header.dataset.get(Tags.PixelData);
    expect(pixelData).toBeDefined();
    expect(pixelData?.value).toBeUndefined();
    expect(pixelData?.length).toBe(0xffffffff);
    expect(header.hasPixelData).toBe(false);
  });

  test('SR nested sequences', async () => {
    const header = await readDicomFileHeader(testFile('test-SR.dcm'));
    const { dataset } = header;
    expect(dataset.getString(Tags.PatientName)).toBe('Test^S R');
    expect(dataset.getString(Tags.ValueType)).toBe('CONTAINER');
    const content = dataset.getItems(Tags.ContentSequence);
    expect(content).toHaveLength(5);
    expect(content[0].getString(0x0040a010)).toBe('HAS OBS CONTEXT');
    const concept = content[0].getItems(Tags.ConceptNameCodeSequence);
    expect(concept[0].getString(0x00080100)).toBe('1234.0');
    const nested = content[1].getItems(Tags.ContentSequence);
    expect(nested).toHaveLength(4);
    expect(nested[0].getString(Tags.ValueType)).toBe('TEXT');
    // Items inherit the Specific Character Set of the data set (ISO_IR 100).
    const observer = dataset.getItems(0x0040a073)[0];
    expect(observer.characterSets).toEqual(['ISO_IR 100']);
    expect(observer.getString(0x0040a075)).toBe('Riesmeier^Jörg');
    expect(header.hasPixelData).toBe(false);
  });

  test('file without meta is read with warning', async () => {
    const header = await readDicomFileHeader(testFile('rtstruct.dcm'));
    expect(header.hasPreamble).toBe(false);
    expect(header.meta.elements.size).toBe(0);
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ImplicitVRLittleEndian);
    expect(header.dataset.getString(Tags.PatientName)).toBe('Test^Phantom30sep');
    expect(header.warnings.join(' ')).toMatch(/no DICM prefix/);
  });

  test('explicit big endian without meta is guessed', async () => {
    const header = await readDicomFileHeader(testFile('ExplVR_BigEndNoMeta.dcm'));
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRBigEndian);
    expect(header.dataset.elements.size).toBeGreaterThan(10);
  });

  test('meta without transfer syntax falls back', async () => {
    const header = await readDicomFileHeader(testFile('meta_missing_tsyntax.dcm'));
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ImplicitVRLittleEndian);
    expect(header.warnings.join(' ')).toMatch(/no Transfer Syntax UID/);
  });

  test('meta group without preamble', async () => {
    const dir = makeTempDir();
    try {
      const bytes = fs.readFileSync(testFile('CT_small.dcm'));
      const file = path.join(dir, 'no_preamble.dcm');
      fs.writeFileSync(file, bytes.subarray(132));
      const header = await readDicomFileHeader(file);
      expect(header.hasPreamble).toBe(false);
      expect(header.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
      expect(header.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
    } finally {
      removeTempDir(dir);
    }
  });

  test('header larger than first read', async () => {
    const dir = makeTempDir();
    try {
      // A 100 000-byte private OB value (0007,1001) before Patient Name makes the header outgrow the 64 KiB first read.
      const bytes = fs.readFileSync(testFile('CT_small.dcm'));
      const header0 = readDicomFileHeaderSync(testFile('CT_small.dcm'));
      const blob = Buffer.alloc(12 + 100000);
      blob.writeUInt16LE(0x0007, 0);
      blob.writeUInt16LE(0x1001, 2);
      blob.write('OB', 4, 'latin1');
      blob.writeUInt32LE(100000, 8);
      const insertAt = header0.datasetOffset;
      const file = path.join(dir, 'big_header.dcm');
      fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, insertAt), blob, bytes.subarray(insertAt)]));
      const header = await readDicomFileHeader(file);
      expect(header.dataset.get(0x00071001)?.value?.length).toBe(100000);
      expect(header.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
      expect(readDicomFileHeaderSync(file).dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
    } finally {
      removeTempDir(dir);
    }
  });
});

describeWithSamples('readDicomFileHeader errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeTempDir(dir));

  test('text file is not DICOM', async () => {
    const file = path.join(dir, 'notes.txt');
    fs.writeFileSync(file, 'These are plain text notes, not a DICOM file.\n'.repeat(10));
    await expect(readDicomFileHeader(file)).rejects.toThrow(NotDicomError);
    await expect(readDicomFileHeader(file)).rejects.toThrow(/notes\.txt: not a DICOM file: no DICM prefix/);
    expect(() => readDicomFileHeaderSync(file)).toThrow(NotDicomError);
  });

  test('FIFO rejected without blocking', async () => {
    // Without O_NONBLOCK the open waits for a writer that never comes, and the test times out.
    const fifo = path.join(dir, 'pipe.dcm');
    execFileSync('mkfifo', [fifo]);
    expect(() => readDicomFileHeaderSync(fifo)).toThrow(/pipe\.dcm: not a DICOM file: not a regular file/);
    await expect(readDicomFileHeader(fifo)).rejects.toThrow(NotDicomError);
  }, 10_000);

  test('empty file is not DICOM', async () => {
    const file = path.join(dir, 'empty.dcm');
    fs.writeFileSync(file, '');
    await expect(readDicomFileHeader(file)).rejects.toThrow(/empty/);
  });

  test('preamble only is damaged', async () => {
    const file = path.join(dir, 'preamble_only.dcm');
    fs.writeFileSync(file, Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from([0x02, 0x00])]));
    await expect(readDicomFileHeader(file)).rejects.toThrow(DicomParseError);
  });

  test('truncated header names file and offset', async () => {
    const bytes = fs.readFileSync(testFile('CT_small.dcm'));
    const file = path.join(dir, 'truncated.dcm');
    // Cut inside the header area, after the meta group and some data set elements.
    fs.writeFileSync(file, bytes.subarray(0, 700));
    let caught: unknown;
    try {
      await readDicomFileHeader(file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DicomParseError);
    const error = caught as DicomParseError;
    expect(error.truncated).toBe(true);
    expect(error.path).toBe(file);
    expect(error.offset).toBeGreaterThan(132);
    expect(error.offset).toBeLessThanOrEqual(700);
    expect(error.message).toContain('truncated.dcm');
    expect(error.message).toMatch(/truncated: the file has 700 bytes, but .* needs \d+ more bytes/);
  });

  test('truncated header with partial option', async () => {
    const bytes = fs.readFileSync(testFile('CT_small.dcm'));
    const file = path.join(dir, 'truncated_partial.dcm');
    fs.writeFileSync(file, bytes.subarray(0, 700));
    const header = await readDicomFileHeader(file, { partial: true });
    expect(header.dataset.elements.size).toBeGreaterThan(5);
    expect(header.warnings.join(' ')).toMatch(/truncated/);
  });

  test('truncated inside meta group', async () => {
    const bytes = fs.readFileSync(testFile('CT_small.dcm'));
    const file = path.join(dir, 'truncated_meta.dcm');
    fs.writeFileSync(file, bytes.subarray(0, 160));
    await expect(readDicomFileHeader(file)).rejects.toThrow(/file meta information is truncated/);
  });

  test('pydicom truncated rtplan', async () => {
    await expect(readDicomFileHeader(testFile('rtplan_truncated.dcm'))).rejects.toThrow(DicomParseError);
  });

  test('garbage element length is damage', async () => {
    const bytes = Buffer.from(fs.readFileSync(testFile('CT_small.dcm')));
    const header = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    // Overwrite the VR of the first data set element with bytes that are neither a VR nor a plausible length.
    bytes[header.datasetOffset + 4] = 0xff;
    bytes[header.datasetOffset + 5] = 0xff;
    bytes[header.datasetOffset + 6] = 0xff;
    bytes[header.datasetOffset + 7] = 0x7f;
    const file = path.join(dir, 'garbage.dcm');
    fs.writeFileSync(file, bytes);
    await expect(readDicomFileHeader(file)).rejects.toThrow(/damaged: Element \(0008,0005\) has the invalid VR bytes 0xff 0xff/);
  });
});

const describeWithDcmtk = haveTool('dcmodify') ? describeWithSamples : describe.skip;

describeWithDcmtk('legacy files made with DCMTK', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeTempDir(dir));

  test('legacy date 1999.05.24', async () => {
    const file = path.join(dir, 'legacy_date.dcm');
    fs.copyFileSync(testFile('CT_small.dcm'), file);
    execFileSync('dcmodify', ['-nb', '-i', '(0008,0020)=1999.05.24', file], { stdio: 'ignore' });
    const header = await readDicomFileHeader(file);
    expect(header.dataset.getString(Tags.StudyDate)).toBe('1999.05.24');
    expect(normalizeDate(header.dataset.getString(Tags.StudyDate))).toBe('19990524');
  });

  test('group 0000 elements in data set', async () => {
    // Some old gateways left command group elements in stored files, with a wrong group length.
    const bytes = fs.readFileSync(testFile('CT_small.dcm'));
    const { datasetOffset } = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    const groupLength = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00, 0xff, 0x00, 0x00, 0x00]);
    const affectedSopClass = Buffer.concat([Buffer.from([0x00, 0x00, 0x02, 0x00, 0x55, 0x49, 0x06, 0x00]), Buffer.from('1.2.3\0', 'latin1')]);
    const file = path.join(dir, 'command_group.dcm');
    fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, datasetOffset), groupLength, affectedSopClass, bytes.subarray(datasetOffset)]));
    const header = await readDicomFileHeader(file);
    expect(header.dataset.getNumber(0x00000000)).toBe(255);
    expect(header.dataset.getString(0x00000002)).toBe('1.2.3');
    expect(header.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
  });

  test('implicit VR file converted by dcmconv', async () => {
    const file = path.join(dir, 'implicit.dcm');
    execFileSync('dcmconv', ['+ti', testFile('CT_small.dcm'), file], { stdio: 'ignore' });
    const header = await readDicomFileHeader(file);
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ImplicitVRLittleEndian);
    expect(header.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
  });

  test('raw data set without meta', async () => {
    const file = path.join(dir, 'acr_nema.dcm');
    execFileSync('dcmconv', ['-F', '+ti', testFile('CT_small.dcm'), file], { stdio: 'ignore' });
    const header = await readDicomFileHeader(file);
    expect(header.hasPreamble).toBe(false);
    expect(header.transferSyntaxUid).toBe(TransferSyntax.ImplicitVRLittleEndian);
    expect(header.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
    expect(header.warnings.length).toBeGreaterThan(0);
  });
});

describeWithSamples('pixel data past the end of the file', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeTempDir(dir));

  /** Writes CT_small.dcm with its Pixel Data length set to `length`. */
  function writeCtWithPixelDataLength(name: string, length: number): string {
    const bytes = Buffer.from(fs.readFileSync(testFile('CT_small.dcm')));
    const { pixelDataOffset } = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    // Explicit VR OW: tag (4 bytes), VR (2), reserved (2), 32-bit length.
    bytes.writeUInt32LE(length, pixelDataOffset! + 8);
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  }

  test('pydicom MR_truncated is rejected', async () => {
    const file = testFile('MR_truncated.dcm');
    await expect(readDicomFileHeader(file)).rejects.toThrow(DicomParseError);
    expect(() => readDicomFileHeaderSync(file)).toThrow(/truncated: it has \d+ bytes, but element \(7FE0,0010\) declares a value of \d+ bytes/i);
  });

  test('huge pixel data length names the numbers', async () => {
    const file = writeCtWithPixelDataLength('ct_huge_length.dcm', 0xfffffff0);
    const fileSize = fs.statSync(file).size;
    let caught: unknown;
    try {
      await readDicomFileHeader(file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DicomParseError);
    const error = caught as DicomParseError;
    expect(error.truncated).toBe(true);
    expect(error.path).toBe(file);
    expect(error.message).toContain(`declares a value of ${0xfffffff0} bytes`);
    expect(error.message).toContain(`it has ${fileSize} bytes, but element`);
  });

  test('file cut inside pixel data is rejected', () => {
    const bytes = fs.readFileSync(testFile('CT_small.dcm'));
    const { pixelDataOffset } = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    const file = path.join(dir, 'ct_cut.dcm');
    // CT_small.dcm has elements after Pixel Data, so the cut falls 100 bytes into the pixel values.
    fs.writeFileSync(file, bytes.subarray(0, pixelDataOffset! + 12 + 100));
    expect(() => readDicomFileHeaderSync(file)).toThrow(/truncated/);
  });

  test('file cut inside pixel data header is rejected', () => {
    const bytes = fs.readFileSync(testFile('CT_small.dcm'));
    const { pixelDataOffset } = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    const file = path.join(dir, 'ct_cut_header.dcm');
    fs.writeFileSync(file, bytes.subarray(0, pixelDataOffset! + 10));
    expect(() => readDicomFileHeaderSync(file)).toThrow(/inside the header of element \(7FE0,0010\)/);
  });

  test('partial option turns truncation into warning', () => {
    const file = writeCtWithPixelDataLength('ct_partial.dcm', 0xfffffff0);
    const header = readDicomFileHeaderSync(file, { partial: true });
    expect(header.dataset.getString(Tags.PatientName)).toBe('CompressedSamples^CT1');
    expect(header.warnings.join(' ')).toMatch(/truncated/);
  });

  test('exact pixel data length is accepted', () => {
    const size = fs.statSync(testFile('CT_small.dcm')).size;
    const { pixelDataOffset } = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    const exact = writeCtWithPixelDataLength('ct_exact.dcm', size - pixelDataOffset! - 12);
    expect(readDicomFileHeaderSync(exact).hasPixelData).toBe(true);
  });

  test('encapsulated pixel data is accepted', async () => {
    const header = await readDicomFileHeader(testFile('JPEG2000.dcm'));
    expect(header.hasPixelData).toBe(true);
  });

  test('big endian pixel data length is checked', () => {
    const bytes = Buffer.from(fs.readFileSync(testFile('MR_small_bigendian.dcm')));
    const { pixelDataOffset } = readDicomFileHeaderSync(testFile('MR_small_bigendian.dcm'));
    const file = path.join(dir, 'mr_bigendian_cut.dcm');
    fs.writeFileSync(file, bytes.subarray(0, pixelDataOffset! + 100));
    expect(() => readDicomFileHeaderSync(file)).toThrow(/it has \d+ bytes, but element \(7FE0,0010\) declares a value of \d+ bytes and needs \d+ more/);
  });
});

describeWithSamples('locateDataset', () => {
  const locate = (file: string, length?: number) => {
    const bytes = fs.readFileSync(file);
    return locateDataset(file, length === undefined ? bytes : bytes.subarray(0, length), bytes.length);
  };

  test.each(['CT_small.dcm', 'MR_small_implicit.dcm', 'MR_small_bigendian.dcm', 'image_dfl.dcm'])('%s matches the full header', (name) => {
    const header = readDicomFileHeaderSync(testFile(name));
    const location = locate(testFile(name));
    expect(location).toBeDefined();
    expect(location!.transferSyntaxUid).toBe(header.transferSyntaxUid);
    expect(location!.datasetOffset).toBe(header.datasetOffset);
  });

  test('file without meta is left to the full header', () => {
    expect(locate(testFile('rtstruct.dcm'))).toBeUndefined();
  });

  test('meta without transfer syntax is left to the full header', () => {
    expect(locate(testFile('meta_missing_tsyntax.dcm'))).toBeUndefined();
  });

  test('chunk ending inside meta group', () => {
    expect(locate(testFile('CT_small.dcm'), 160)).toBeUndefined();
  });

  test('data set after the meta group is not read', () => {
    const bytes = fs.readFileSync(testFile('CT_small.dcm'));
    const { datasetOffset } = readDicomFileHeaderSync(testFile('CT_small.dcm'));
    const damaged = Buffer.from(bytes);
    damaged.fill(0xff, datasetOffset, datasetOffset + 64);
    expect(locateDataset('damaged.dcm', damaged, damaged.length)?.datasetOffset).toBe(datasetOffset);
  });

  test('empty file is not DICOM', () => {
    expect(() => locateDataset('empty.dcm', Buffer.alloc(0), 0)).toThrow(NotDicomError);
  });
});
