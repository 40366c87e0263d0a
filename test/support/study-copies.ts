/**
 * Copies of the corpus CT file, each made a study of its own with DCMTK
 * dcmodify: new Study, Series and SOP Instance UIDs, UTF-8 text (ISO_IR 192)
 * and the given attributes.
 */
import fs from 'node:fs';
import path from 'node:path';

import { corpusFile } from './corpus';
import { runDcmtk } from './peers';

export interface StudyCopies<Label extends string> {
  /** Paths of the copies, in the order of the labels. */
  files: string[];
  uidOf: Record<Label, string>;
}

/**
 * Writes `folder`/LABEL.dcm for each label, with the attributes given by tag,
 * such as { '(0010,0010)': 'Иванов^Иван' }, and returns their paths and
 * Study Instance UIDs.
 */
export async function writeStudyCopies<Label extends string>(folder: string, attributes: Record<Label, Record<string, string>>): Promise<StudyCopies<Label>> {
  const source = corpusFile('ct').absolutePath;
  const copies: StudyCopies<Label> = { files: [], uidOf: {} as Record<Label, string> };
  fs.mkdirSync(folder, { recursive: true });

  for (const [label, tags] of Object.entries(attributes) as [Label, Record<string, string>][]) {
    const file = path.join(folder, `${label}.dcm`);
    fs.copyFileSync(source, file);
    const changes = Object.entries({ '(0008,0005)': 'ISO_IR 192', ...tags }).flatMap(([tag, value]) => ['-i', `${tag}=${value}`]);
    const modified = await runDcmtk('dcmodify', ['-nb', '-gst', '-gse', '-gin', ...changes, file]);
    if (modified.code !== 0) throw new Error(`dcmodify failed on ${file}: ${modified.stderr}`);

    const dump = await runDcmtk('dcmdump', ['+P', 'StudyInstanceUID', file]);
    const uid = /\[([0-9.]+)\]/.exec(dump.stdout)?.[1];
    if (uid === undefined) throw new Error(`dcmdump printed no Study Instance UID for ${file}: ${dump.stdout}`);
    copies.uidOf[label] = uid;
    copies.files.push(file);
  }
  return copies;
}
