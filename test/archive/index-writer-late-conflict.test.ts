/**
 * Conflicts that a deferred index commit of 'process-crash' durability finds
 * (index-writer.ts): .conflicts keeps one copy of each different data set,
 * as it does for conflicts found when the instance is received.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LocalArchive } from '../../src/services/archive';
import { ArchiveCatalog } from '../../src/services/archive/catalog';
import * as placement from '../../src/services/archive/placement';
import { setLogSink } from '../../src/services/logger';
import { generateUid } from '../../src/dicom/uid';
import { CT_SMALL, Tag, datasetPartOf, makeTempDir, modifiedCopy, removeTempDir, requestFor } from './fixtures';
import { incomingLeftovers } from '../support/incoming';

const REPEATED = 'equals a copy kept aside before; removed the repeated copy';

describe('late conflicts of deferred index commits', () => {
  let workDir: string;
  let root: string;
  let logLines: string[];
  let previousSink: (line: string) => void;
  let repeatCheck: jest.SpiedFunction<typeof placement.keepConflictOnce>;

  beforeEach(() => {
    workDir = makeTempDir();
    root = path.join(workDir, 'archive');
    logLines = [];
    previousSink = setLogSink((line) => logLines.push(line));
    repeatCheck = jest.spyOn(placement, 'keepConflictOnce');
  });

  afterEach(() => {
    jest.restoreAllMocks();
    setLogSink(previousSink);
    removeTempDir(workDir);
  });

  /**
   * Receives `file` into a new 'process-crash' archive whose index lookup
   * misses the UID, as in a process that looked it up before another one
   * committed it, so the conflict shows only at the deferred commit.
   */
  async function receiveLate(file: ReturnType<typeof datasetPartOf>) {
    const archive = LocalArchive.open(root, { durability: 'process-crash' });
    const lookup = jest.spyOn(ArchiveCatalog.prototype, 'findInstance').mockReturnValueOnce(undefined);
    const outcome = await archive.receive(requestFor(file));
    lookup.mockRestore();
    archive.close();
    return outcome;
  }

  /** Waits for the checks for repeated copies that the deferred commits started after they kept a copy aside. */
  async function repeatChecksDone(): Promise<void> {
    await Promise.all(repeatCheck.mock.results.map((result) => result.value));
  }

  function conflictNames(): string[] {
    return fs.readdirSync(path.join(root, '.conflicts')).sort();
  }

  test('repeated late conflict kept once', async () => {
    const stored = LocalArchive.open(root, { durability: 'process-crash' });
    const part = datasetPartOf(CT_SMALL);
    const moved = datasetPartOf(modifiedCopy(CT_SMALL, path.join(workDir, 'moved.dcm'), { [Tag.StudyInstanceUID]: generateUid() }));
    await stored.receive(requestFor(part));
    stored.close();

    const first = await receiveLate(moved);
    const firstConflicts = conflictNames();
    const second = await receiveLate(moved);
    await repeatChecksDone();
    const repeatedLog = logLines.find((line) => line.includes(REPEATED)) ?? '';

    expect(first.outcome).toBe('stored');
    expect(second.outcome).toBe('stored');
    expect(firstConflicts).toHaveLength(1);
    expect(conflictNames()).toEqual(firstConflicts);
    expect(repeatCheck).toHaveBeenCalledTimes(2);
    expect(fs.existsSync(second.path)).toBe(false);
    expect(incomingLeftovers(root)).toEqual([]);
    expect(repeatedLog).toContain(`conflictPath=${path.join(root, '.conflicts', firstConflicts[0])}`);
    expect(repeatedLog).toContain(`removedPath=${path.join(root, '.conflicts', part.sopInstanceUid)}.`);
    expect(repeatedLog).toContain(`sopInstanceUid=${part.sopInstanceUid}`);
  });

  test('different late conflicts both kept', async () => {
    const stored = LocalArchive.open(root, { durability: 'process-crash' });
    const part = datasetPartOf(CT_SMALL);
    const otherStudy = generateUid();
    const moved = datasetPartOf(modifiedCopy(CT_SMALL, path.join(workDir, 'moved.dcm'), { [Tag.StudyInstanceUID]: otherStudy }));
    const renamed = datasetPartOf(
      modifiedCopy(CT_SMALL, path.join(workDir, 'renamed.dcm'), { [Tag.StudyInstanceUID]: otherStudy, [Tag.PatientName]: 'OTHER^NAME' }),
    );
    await stored.receive(requestFor(part));
    stored.close();

    await receiveLate(moved);
    await receiveLate(renamed);
    await repeatChecksDone();
    const keptCopies = conflictNames().map((name) => fs.readFileSync(path.join(root, '.conflicts', name)));

    expect(repeatCheck).toHaveBeenCalledTimes(2);
    expect(keptCopies).toHaveLength(2);
    expect(keptCopies[0].subarray(-moved.bytes.length).equals(moved.bytes)).toBe(true);
    expect(keptCopies[1].subarray(-renamed.bytes.length).equals(renamed.bytes)).toBe(true);
    expect(logLines.some((line) => line.includes(REPEATED))).toBe(false);
  });
});
