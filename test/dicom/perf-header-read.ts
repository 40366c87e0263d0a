/**
 * Measures the header read rate of readDicomFileHeaderSync: one file read
 * N times (default 10 000), so the file stays in the page cache and the number shows
 * parsing plus system call cost, not disk speed. Not a jest test.
 *
 * Run: npx tsc --outDir /tmp/perf --module commonjs --target es2022 --esModuleInterop \
 *        --skipLibCheck --rootDir . test/dicom/perf-header-read.ts
 *      ln -sfn "$PWD/node_modules" /tmp/perf/node_modules
 *      node /tmp/perf/test/dicom/perf-header-read.js [file] [count]
 */
import { readDicomFileHeader, readDicomFileHeaderSync } from '../../src/dicom/file-reader';

const file = process.argv[2] ?? '/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm';
const count = Number(process.argv[3] ?? 10000);

async function main(): Promise<void> {
  // Warm up the dictionary, the codecs and the JIT.
  for (let i = 0; i < 200; i++) readDicomFileHeaderSync(file);

  let start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) readDicomFileHeaderSync(file);
  let seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`sync:  ${count} header reads of ${file} in ${seconds.toFixed(3)} s = ${Math.round(count / seconds)} files/s`);

  start = process.hrtime.bigint();
  const batchSize = 16;
  for (let i = 0; i < count; i += batchSize) {
    await Promise.all(Array.from({ length: Math.min(batchSize, count - i) }, () => readDicomFileHeader(file)));
  }
  seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`async: ${count} header reads, ${batchSize} at a time, in ${seconds.toFixed(3)} s = ${Math.round(count / seconds)} files/s`);
}

void main();
