/**
 * The log line for a data set that contains group 0002 elements, which PS3.10
 * section 7.1 allows only in the file meta information. The header readers
 * keep them as data set elements and take the transfer syntax and the Media
 * Storage UIDs from the file meta information only (see listFileMetaElements).
 */
import { formatTag } from '../../dicom/dataset';
import { listFileMetaElements, type DicomFileHeader } from '../../dicom/file-reader';
import type { LogFields, Logger } from '../logger';

/**
 * Logs one WARN line when the data set of `header` contains group 0002
 * elements, with their tags and `fields` (the path, or the calling AE title
 * and SOP Instance UID of a C-STORE).
 */
export function warnFileMetaElementsInDataset(logger: Logger, header: Pick<DicomFileHeader, 'dataset'>, fields: LogFields): void {
  const tags = listFileMetaElements(header.dataset);
  if (tags.length === 0) return;
  logger.warn(
    'The data set contains File Meta Information elements (group 0002); they were kept as received and set neither the transfer syntax nor the SOP Class and SOP Instance UIDs',
    { ...fields, tags: tags.map(formatTag).join(',') },
  );
}
