/**
 * Lists the files a DICOMDIR references (PS3.10 section 8 and PS3.3 annex F):
 * every Referenced File ID (0004,1500) in the Directory Record Sequence
 * (0004,1220), resolved relative to the folder that contains the DICOMDIR.
 */
import * as fs from 'fs';
import * as path from 'path';

import { Dataset } from './dataset';
import { readDicomFileHeader } from './file-reader';
import { Tags } from './tags';

/** A directory record whose Referenced File ID (0004,1500) names no file. */
export interface MissingReference {
  /** The Referenced File ID joined to the DICOMDIR folder as written. */
  path: string;
  /** The Referenced File ID as the DICOMDIR stores it, components separated by backslashes. */
  referencedFileId: string;
  /** The directory record's 1-based position in the Directory Record Sequence and its Directory Record Type, e.g. 'Directory record 4 (IMAGE)'. */
  record: string;
}

export interface DicomdirFileList {
  /**
   * Absolute paths of existing referenced entries other than folders, in
   * directory record order, without duplicates. An entry may be a FIFO,
   * socket or device file, so a caller checks the type before opening it.
   */
  files: string[];
  /** Referenced files that do not exist. They are also in `warnings`. */
  missing: MissingReference[];
  /** Records that were skipped, each with the reason. */
  warnings: string[];
}

/** Record In-use Flag (0004,1410) value of an inactive record (PS3.3 section F.3.2.2, retired but still written). */
const RECORD_INACTIVE = 0x0000;

/**
 * Reads a DICOMDIR and returns the files its directory records reference.
 * File ID components are matched to directory entries case-insensitively,
 * because media written on case-insensitive systems often differ in case from
 * the upper-case IDs. Components that are empty, '.', '..', absolute or that
 * contain a path separator are rejected with a warning, so a DICOMDIR cannot
 * point outside its folder. Throws NotDicomError or DicomParseError when the
 * DICOMDIR itself cannot be read.
 */
export async function listDicomdirReferencedFiles(dicomdirPath: string): Promise<DicomdirFileList> {
  const header = await readDicomFileHeader(dicomdirPath, { stopAtTag: null });
  const root = path.dirname(path.resolve(dicomdirPath));
  const resolver = new CaseInsensitiveResolver();
  const files: string[] = [];
  const missing: MissingReference[] = [];
  const seen = new Set<string>();
  const warnings = [...header.warnings];

  const records: Dataset[] = header.dataset.getItems(Tags.DirectoryRecordSequence);
  if (!header.dataset.has(Tags.DirectoryRecordSequence)) {
    warnings.push(`${dicomdirPath}: the DICOMDIR has no Directory Record Sequence (0004,1220).`);
  }

  records.forEach((record, index) => {
    if (!record.has(Tags.ReferencedFileID)) return;
    if (record.getNumber(Tags.RecordInUseFlag) === RECORD_INACTIVE) return;

    const label = `Directory record ${index + 1} (${record.getString(Tags.DirectoryRecordType) || 'no type'})`;
    const components = record.getStrings(Tags.ReferencedFileID);
    const problem = findUnsafeComponent(components);
    if (problem) {
      warnings.push(`${label}: Referenced File ID "${components.join('\\')}" was skipped because ${problem}.`);
      return;
    }

    const resolved = resolver.resolve(root, components);
    if (!resolved) {
      const referencedFileId = components.join('\\');
      missing.push({ path: path.join(root, ...components), referencedFileId, record: label });
      warnings.push(`${label}: referenced file "${referencedFileId}" was not found under ${root}.`);
      return;
    }
    if (!seen.has(resolved)) {
      seen.add(resolved);
      files.push(resolved);
    }
  });

  return { files, missing, warnings };
}

function findUnsafeComponent(components: string[]): string | undefined {
  if (components.length === 0) return 'it is empty';
  for (const component of components) {
    if (component === '') return 'it has an empty component';
    if (component === '.' || component === '..') return `the component '${component}' leaves the DICOMDIR folder`;
    if (/[/\\:]/.test(component) || path.isAbsolute(component)) {
      return `the component '${component}' is an absolute path or contains a path separator`;
    }
  }
  return undefined;
}

/** Looks up path components case-insensitively, reading each directory once. */
class CaseInsensitiveResolver {
  private readonly listings = new Map<string, Map<string, string> | null>();

  resolve(root: string, components: string[]): string | undefined {
    let current = root;
    for (const component of components) {
      const entry = this.findEntry(current, component);
      if (entry === undefined) return undefined;
      current = path.join(current, entry);
    }
    // A FIFO, socket or device file is returned too, so the scan lists it as such instead of as missing.
    try {
      return fs.statSync(current).isDirectory() ? undefined : current;
    } catch {
      return undefined;
    }
  }

  private findEntry(directory: string, component: string): string | undefined {
    const listing = this.listDirectory(directory);
    if (!listing) return undefined;
    for (const candidate of candidateNames(component)) {
      const entry = listing.get(candidate.toUpperCase());
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  private listDirectory(directory: string): Map<string, string> | null {
    let listing = this.listings.get(directory);
    if (listing !== undefined) return listing;
    try {
      listing = new Map();
      for (const name of fs.readdirSync(directory)) {
        const key = name.toUpperCase();
        // An exact-case entry wins when two entries differ only in case.
        if (!listing.has(key) || name === key) listing.set(key, name);
      }
    } catch {
      listing = null;
    }
    this.listings.set(directory, listing);
    return listing;
  }
}

/** ISO 9660 media show 'IM000001' as 'IM000001.;1' or 'IM000001.', so those spellings are tried too. */
function candidateNames(component: string): string[] {
  return [component, `${component}.`, `${component}.;1`, `${component};1`];
}
