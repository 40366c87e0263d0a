/**
 * Differential C-FIND: the same studies in `loader serve`, DCMTK dcmqrscp
 * 3.6.7 and Orthanc 1.10, and the same findscu queries against all three.
 *
 * A query passes when the loader returns the same matches as at least one of
 * the peers. Where the loader differs from both, JUDGED contains the loader's
 * expected result and the reason, based on PS3.4 section C.2.2.2.
 * Where the loader agrees with only one peer, the other peer is wrong or
 * the standard leaves the matching to the implementation. For example,
 * dcmqrscp matches person names case-sensitively and ignores
 * ModalitiesInStudy. Orthanc leaves out records that lack the attribute
 * from '*', and it counts empty dates and times as inside an open range.
 * For a key with several values, such as PatientID=P1\\P2, dcmqrscp
 * compares the whole value and finds nothing, while the loader and Orthanc
 * match any of the values.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeQueryFile } from '../e2e/helpers';
import {
  LOOPBACK,
  associationArgs,
  makeTempDir,
  runCommand,
  runDcmtk,
  startDcmqrscp,
  startLoader,
  startOrthanc,
  storeFiles,
} from '../support/peers';
import type { DicomNode } from '../support/peers';

const CORPUS_SCRIPT = path.join(__dirname, 'find-differential-corpus.py');

/** Study name -> its Study Instance UID and Series Instance UIDs, as the corpus script prints them. */
type Manifest = Record<string, { study: string; series: string[] }>;

interface Query {
  model: '-S' | '-P';
  level: 'PATIENT' | 'STUDY' | 'SERIES';
  keys: string[];
  /** Keys written to a query file in this Specific Character Set, for values that findscu -k sends only as UTF-8. */
  encoded?: { characterSet: string; keys: Record<string, string> };
}

const UTF8 = 'SpecificCharacterSet=ISO_IR 192';

const study = (...keys: string[]): Query => ({ model: '-S', level: 'STUDY', keys });
const patient = (...keys: string[]): Query => ({ model: '-P', level: 'PATIENT', keys });
const encoded = (characterSet: string, keys: Record<string, string>): Query => ({
  model: '-S',
  level: 'STUDY',
  keys: [],
  encoded: { characterSet, keys },
});

function buildQueries(manifest: Manifest): Query[] {
  const queries: Query[] = [];
  const names = [
    'Doe^John', 'doe^john', 'DOE^JOHN', 'Doe*', 'doe*', '*john*', 'D?e^J*', 'Doe^Johnny', 'Doe^Johnny^^', 'Doe^John^',
    'Doe', 'Doe^', '*^John', 'Roe^Jane', 'Roe^Jane^', '*', '', '^', '?*', '*^^', 'Doe^John*^', ' Doe^John',
    'Yamada*', 'yamada^tarou', 'Yamada^Tarou', '*Tarou*', 'van der*', '*Anna Maria', 'van der Berg', 'Doe^John\\Roe^Jane',
  ];
  for (const name of names) queries.push(study(`PatientName=${name}`));
  const unicodeNames = [
    'Иванов*', 'иванов*', 'ИВАНОВ^ИВАН', 'Петров^Пётр', 'петров*', 'Сидорова^Анна', 'Сидорова^Анна^', 'Ив?нов*',
    '山田*', '山田^太郎', '*太郎', 'やまだ^たろう', 'Yamada^Tarou=山田^太郎', 'Yamada^Tarou=山田^太郎=やまだ^たろう', '=山田^太郎',
    '山田^花子', '山?^花子', 'yamada^hanako', 'Müller^Jürgen', 'müller*', 'MÜLLER^JÜRGEN', 'M?ller*',
    '*=山田*', '=山田^次郎', 'Yamada^Tarou==やまだ^たろう', 'Yamada^Tarou=山田^花子',
  ];
  for (const name of unicodeNames) queries.push(study(UTF8, `PatientName=${name}`));
  for (const name of ['Иванов*', 'иванов*', 'Петров^Пётр', 'Сидорова^Анна']) queries.push(encoded('ISO_IR 144', { PatientName: name }));
  const iso2022Names = ['山田*', 'やまだ*', '山田^花子', '山?^花子', 'Yamada^Hanako=山田^花子', 'Yamada^Tarou=山田^太郎', '=山田^太郎', '*=山田*', '=山田^花子'];
  for (const name of iso2022Names) queries.push(encoded('\\ISO 2022 IR 87', { PatientName: name }));
  queries.push(encoded('ISO_IR 144', { StudyDescription: 'Мозг' }));
  queries.push(encoded('\\ISO 2022 IR 144', { PatientName: 'Иванов*' }));
  queries.push(encoded('ISO_IR 100', { PatientName: 'mÜller*' }));
  queries.push(encoded('\\ISO 2022 IR 100', { PatientName: 'Müller*' }));
  queries.push(encoded('GB18030', { PatientName: '山田*' }));
  queries.push(encoded('ISO_IR 13', { PatientName: 'Doe*' }));

  const dates = ['20240115', '20240101-20240131', '-20231231', '20240201-', '20240131-20240101', '20240115\\20240301', '*', '2024*', '-', '2024.01.15'];
  for (const date of dates) queries.push(study(`StudyDate=${date}`));
  const times = ['1030', '103045', '0900-1100', '-1000', '12-', '1200', '12-12', '0830-0830', '235959-', '*', '12:00', '120000.5', '120000.5-120000.6', '1200-1159', '0000', '-0000', '00'];
  for (const time of times) queries.push(study(`StudyTime=${time}`));
  queries.push(study('StudyDate=20240115', 'StudyTime=1030-1031'));
  for (const accession of ['ACC*', 'acc*', 'ACC00?', 'ACC001', '*', 'ACC001\\ACC002', ' ACC001', 'ACC 014']) queries.push(study(`AccessionNumber=${accession}`));
  for (const description of ['Head*', 'head*', '*CT', 'HEAD ct', 'Head', '*', '?*', 'Hand left', ' Head CT']) queries.push(study(`StudyDescription=${description}`));
  for (const modalities of ['CT', 'MR\\PT', 'P?', '*', 'SR', 'C*\\US', 'ct', ' CT']) queries.push(study(`ModalitiesInStudy=${modalities}`));
  for (const id of ['P1', 'P*', 'p1', 'P1\\P2', 'P?']) queries.push(study(`PatientID=${id}`));
  for (const id of ['s1', 'S1', 's1*', 's?']) queries.push(study(`StudyID=${id}`));
  queries.push(study(`StudyInstanceUID=${manifest.s1.study}\\${manifest.s2.study}`));
  queries.push(study('ModalitiesInStudy=CT', 'PatientName=Doe*', 'StudyDate=20240101-'));

  const series = (studyUid: string, ...keys: string[]): Query => ({ model: '-S', level: 'SERIES', keys: [`StudyInstanceUID=${studyUid}`, ...keys] });
  const { s2, s10 } = manifest;
  for (const modality of ['PT', 'C*', 'ct', '*', 'CT\\PT']) queries.push(series(s2.study, `Modality=${modality}`));
  queries.push(series(s2.study, `SeriesInstanceUID=${s2.series.join('\\')}`));
  queries.push(series(`${s2.study}\\${s10.study}`, 'Modality=CT'));
  queries.push(series(s10.study, 'SeriesNumber=2'));
  queries.push(series(s10.study, 'PatientName=Roe*'));
  queries.push({ model: '-P', level: 'SERIES', keys: ['PatientID=P1', `StudyInstanceUID=${s10.study}`, 'Modality=MR'] });

  for (const name of ['Doe*', 'doe*', '*', 'Roe^Jane', '^']) queries.push(patient(`PatientName=${name}`));
  for (const id of ['P*', 'P1\\P3']) queries.push(patient(`PatientID=${id}`));
  for (const birth of ['19700101', '-19700101', '19800101-']) queries.push(patient(`PatientBirthDate=${birth}`));
  queries.push(patient('StudyDate=20240115'));
  queries.push({ model: '-P', level: 'STUDY', keys: ['PatientID=P1', 'StudyDate=20240101-20240116'] });
  return queries;
}

const ALL_STUDIES = 's1 s10 s11 s12 s13 s14 s2 s3 s4 s5 s6 s7 s8 s9';
const ALL_PATIENTS = 'P1 P11 P12 P13 P14 P2 P3 P4 P5 P6 P7 P8 P9';

/**
 * Queries on which the loader differs from both peers, with the loader's
 * expected result as runQuery formats it and the reason that PS3.4 allows it.
 */
const JUDGED: Record<string, { answer: string; reason: string }> = {};

function judge(reason: string, cases: Record<string, string>): void {
  for (const [label, answer] of Object.entries(cases)) JUDGED[label] = { answer, reason };
}

// The loader ignores trailing empty name components (trimPersonName), and
// C.2.2.2.1 leaves PN matching to the implementation. Both peers compare the text.
judge('trailing empty PN components', {
  '-S STUDY PatientName=Doe^Johnny': 'Success: s2',
  '-S STUDY PatientName=Doe^John^': 'Success: s1 s10 s9',
  '-S STUDY PatientName=Roe^Jane': 'Success: s3',
  '-S STUDY PatientName=Roe^Jane^': 'Success: s3',
  '-S STUDY PatientName=^': `Success: ${ALL_STUDIES}`,
  '-S STUDY PatientName=*^^': `Success: ${ALL_STUDIES}`,
  '-S STUDY PatientName=Doe^John*^': 'Success: s1 s10 s2 s9',
  '-S STUDY PatientName=Doe^John\\Roe^Jane': 'Success: s1 s10 s3 s9',
  [`-S STUDY ${UTF8} PatientName=Сидорова^Анна`]: 'Success: s11',
  [`-S STUDY ${UTF8} PatientName=Сидорова^Анна^`]: 'Success: s11',
  '-S STUDY ISO_IR 144 PatientName=Сидорова^Анна': 'Success: s11',
  '-P PATIENT PatientName=Roe^Jane': 'Success: P3',
  '-P PATIENT PatientName=^': `Success: ${ALL_PATIENTS}`,
});

// C.2.2.2.4 note 3 expects that an SCP may match each component group on its own. Both peers match the whole value.
judge('PN component groups matched one by one', {
  '-S STUDY PatientName=yamada^tarou': 'Success: s6',
  '-S STUDY PatientName=Yamada^Tarou': 'Success: s6',
  [`-S STUDY ${UTF8} PatientName=山田*`]: 'Success: s12 s6',
  [`-S STUDY ${UTF8} PatientName=山田^太郎`]: 'Success: s6',
  [`-S STUDY ${UTF8} PatientName=*太郎`]: 'Success: s6',
  [`-S STUDY ${UTF8} PatientName=やまだ^たろう`]: 'Success: s6',
  [`-S STUDY ${UTF8} PatientName=山田^花子`]: 'Success: s12',
  [`-S STUDY ${UTF8} PatientName=山?^花子`]: 'Success: s12',
  [`-S STUDY ${UTF8} PatientName=yamada^hanako`]: 'Success: s12',
  '-S STUDY \\ISO 2022 IR 87 PatientName=山田*': 'Success: s12 s6',
  '-S STUDY \\ISO 2022 IR 87 PatientName=やまだ*': 'Success: s6',
  '-S STUDY \\ISO 2022 IR 87 PatientName=山田^花子': 'Success: s12',
  '-S STUDY \\ISO 2022 IR 87 PatientName=山?^花子': 'Success: s12',
  '-S STUDY GB18030 PatientName=山田*': 'Success: s12 s6',
});

// A key with component groups is matched group by group, and a group that the key leaves empty or omits matches
// any value (PS3.5 section 6.2 lets groups be absent). dcmqrscp and Orthanc compare the whole value, so they find nothing.
judge('PN key with component groups', {
  [`-S STUDY ${UTF8} PatientName=Yamada^Tarou=山田^太郎`]: 'Success: s6',
  [`-S STUDY ${UTF8} PatientName==山田^太郎`]: 'Success: s6',
  [`-S STUDY ${UTF8} PatientName=Yamada^Tarou==やまだ^たろう`]: 'Success: s6',
  '-S STUDY \\ISO 2022 IR 87 PatientName=Yamada^Tarou=山田^太郎': 'Success: s6',
  '-S STUDY \\ISO 2022 IR 87 PatientName==山田^太郎': 'Success: s6',
  '-S STUDY \\ISO 2022 IR 87 PatientName==山田^花子': 'Success: s12',
});

// C.2.2.2.4 says that '?' matches any single character, but neither peer matches it to one Cyrillic or accented letter.
judge("'?' on a non-ASCII character", {
  [`-S STUDY ${UTF8} PatientName=Ив?нов*`]: 'Success: s4',
  [`-S STUDY ${UTF8} PatientName=M?ller*`]: 'Success: s13',
});

// The loader trims leading spaces of string keys as it trims trailing padding. Orthanc keeps them, and dcmqrscp ignores ModalitiesInStudy.
judge('leading spaces in a key', {
  '-S STUDY PatientName= Doe^John': 'Success: s1 s10 s9',
  '-S STUDY ModalitiesInStudy= CT': 'Success: s1 s10 s2 s5 s7 s9',
});

// The loader matches each value of the list as a pattern. Orthanc takes 'C*' literally, and dcmqrscp ignores the key.
judge('wildcard in a ModalitiesInStudy list', {
  '-S STUDY ModalitiesInStudy=C*\\US': 'Success: s1 s10 s12 s14 s2 s5 s7 s8 s9',
});

// C.2.2.2.4 allows no wildcards on DA and TM, so '*' there is not defined. The loader takes it as universal matching.
judge("'*' on DA and TM", {
  '-S STUDY StudyDate=*': `Success: ${ALL_STUDIES}`,
  '-S STUDY StudyTime=*': `Success: ${ALL_STUDIES}`,
});

// C.2.2.2.5 defines only "A-B", "-B" and "A-", so the loader rejects a bare '-' with C000.
judge('DA value that is no range', {
  '-S STUDY StudyDate=-': 'Failed: UnableToProcess',
});

// C.2.2.2.5 compares times within a day. The loader reads the upper bound '12' as the whole hour, so it admits 12:00:00.5.
judge('partial time as an upper bound', {
  '-S STUDY StudyTime=12-12': 'Success: s4 s5',
});

// C.2.2.2.5 defines a range from the earlier to the later value and no time range across midnight. Both peers
// answer such a range with no matches and Success, and the loader rejects it with C000 and an Error Comment.
judge('range that starts after it ends', {
  '-S STUDY StudyDate=20240131-20240101': 'Failed: UnableToProcess',
  '-S STUDY StudyTime=1200-1159': 'Failed: UnableToProcess',
});

function labelOf(query: Query): string {
  const parts = [query.model, query.level, ...query.keys];
  if (query.encoded) {
    parts.push(query.encoded.characterSet, ...Object.entries(query.encoded.keys).map(([keyword, value]) => `${keyword}=${value}`));
  }
  return parts.join(' ');
}

/**
 * Runs findscu and returns "status: matches" (the status alone when nothing
 * matched), with each match named by the study or series the corpus gave it.
 * `queryFile` carries query.encoded.
 */
async function runQuery(node: DicomNode, query: Query, names: Map<string, string>, queryFile?: string): Promise<string> {
  const returned = { PATIENT: 'PatientID', STUDY: 'StudyInstanceUID', SERIES: 'SeriesInstanceUID' }[query.level];
  const args = ['-v', query.model, '-k', `QueryRetrieveLevel=${query.level}`];
  for (const key of query.keys) args.push('-k', key);
  if (!query.keys.some((key) => key.startsWith(`${returned}=`))) args.push('-k', returned);
  args.push(...associationArgs(node, 'FINDSCU'));
  if (queryFile) args.push(queryFile);

  const run = await runDcmtk('findscu', args);
  // findscu -v prefixes each log line with its level ("I: ") and dumps each response dataset.
  const output = run.stderr.replace(/^[A-Z]: /gm, '');
  const status = /Received Final Find Response \(([^)]*)\)/.exec(output)?.[1].replace(/:\s*$/, '') ?? `findscu exit code ${run.code}`;
  const tag = { PATIENT: '(0010,0020) LO', STUDY: '(0020,000d) UI', SERIES: '(0020,000e) UI' }[query.level];
  const matches = output
    .split('Find Response:')
    .slice(1)
    .map((block) => {
      const line = block.split('\n').find((text) => text.startsWith(tag));
      const value = (line ? /\[([^\]]*)\]/.exec(line)?.[1] ?? '' : '(missing)').replace(/[\s\0]+$/, '');
      return names.get(value) ?? value;
    })
    .sort();
  return matches.length > 0 ? `${status}: ${matches.join(' ')}` : status;
}

/** Runs `work` on each item, `limit` at a time, and returns the results in order. */
async function mapWithLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

test('loader C-FIND matches dcmqrscp or Orthanc', async () => {
  const filesDir = makeTempDir('find-diff-files');
  const generated = await runCommand('/usr/bin/python3', [CORPUS_SCRIPT, filesDir]);
  expect(generated.code).toBe(0);
  const manifest = JSON.parse(generated.stdout) as Manifest;
  const files = fs.readdirSync(filesDir).map((name) => path.join(filesDir, name));
  const names = new Map<string, string>();
  for (const [name, entry] of Object.entries(manifest)) {
    names.set(entry.study, name);
    entry.series.forEach((uid, index) => names.set(uid, `${name}/${index}`));
  }

  const [loader, dcmqrscp, orthanc] = await Promise.all([
    startLoader([], { aeTitle: 'LOADER' }),
    startDcmqrscp({ aeTitle: 'DCMQR' }),
    startOrthanc({ aeTitle: 'ORTHANC', modalities: { findscu: { aet: 'FINDSCU', host: LOOPBACK, port: 1 } } }),
  ]);
  try {
    const [loaderStore, dcmqrscpStore] = await Promise.all([storeFiles(loader, files), storeFiles(dcmqrscp, files)]);
    expect(loaderStore.code).toBe(0);
    expect(dcmqrscpStore.code).toBe(0);
    for (const file of files) await orthanc.uploadFile(file);

    const queries = buildQueries(manifest);
    const answers = await mapWithLimit(queries, 2, async (query) => {
      // One folder per file, because writeQueryFile names files by counting the folder's entries.
      const queryFile = query.encoded
        ? await writeQueryFile(makeTempDir('find-diff-query'), query.encoded.characterSet, query.level, query.encoded.keys)
        : undefined;
      return Promise.all([loader, dcmqrscp, orthanc].map((node) => runQuery(node, query, names, queryFile)));
    });

    const unexpected: string[] = [];
    queries.forEach((query, index) => {
      const label = labelOf(query);
      const [fromLoader, fromDcmqrscp, fromOrthanc] = answers[index];
      const judged = JUDGED[label];
      const agrees = judged ? fromLoader === judged.answer : fromLoader === fromDcmqrscp || fromLoader === fromOrthanc;
      if (!agrees) {
        const expected = judged ? `\n  expected: ${judged.answer} (${judged.reason})` : '';
        unexpected.push(`${label}\n  loader:   ${fromLoader}\n  dcmqrscp: ${fromDcmqrscp}\n  orthanc:  ${fromOrthanc}${expected}`);
      }
    });
    expect(unexpected).toEqual([]);
  } finally {
    await Promise.all([loader.stop(), dcmqrscp.stop(), orthanc.stop()]);
  }
});
