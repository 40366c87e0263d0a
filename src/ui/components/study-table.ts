/** Table of studies with the default columns, sorted by a click on a column header. */
import type { QTableWidget } from '@nodegui/nodegui';
import React, { useMemo } from 'react';

import type { StudyRow } from '../controllers/app-controller';
import type { Translate } from '../i18n';
import { RowTable } from './row-table';
import type { RowTableSorting } from './row-table';
import type { ColumnKind, SortValue } from './table-sort';

const h = React.createElement;

export interface StudyTableProps {
  id: string;
  rows: StudyRow[];
  t: Translate;
  /** Language of the interface, whose collation orders the names and texts when a column is sorted. */
  language: string;
  onSelectionChange: (studyUids: string[]) => void;
  /** Receives the study of a double-click or of Enter on the current row. */
  onActivate?: (studyInstanceUid: string) => void;
  /** Receives the widget, for focus and keyboard shortcuts. */
  tableRef?: (table: QTableWidget | null) => void;
}

/** Comparison kind of each column, in the order of cellsOf(). */
const COLUMN_KINDS: ColumnKind[] = ['text', 'text', 'date', 'text', 'date', 'number', 'text'];
const STUDY_DATE_COLUMN = 4;
const PATIENT_NAME_COLUMN = 0;
const PATIENT_ID_COLUMN = 1;

function cellsOf(row: StudyRow): string[] {
  const images = row.numberOfInstances === undefined ? '' : String(row.numberOfInstances);
  return [row.patientName, row.patientId, row.patientBirthDate, row.modalities, row.studyDate, images, row.studyDescription];
}

/** Returns the sort values of a row: the Study Time orders the studies of one Study Date. */
function sortValuesOf(row: StudyRow): SortValue[] {
  return [row.patientName, row.patientId, row.patientBirthDate, row.modalities, `${row.studyDate} ${row.studyTime}`, row.numberOfInstances, row.studyDescription];
}

export function StudyTable(props: StudyTableProps): React.ReactElement {
  const cells = useMemo(() => props.rows.map(cellsOf), [props.rows]);
  const rowKeys = useMemo(() => props.rows.map((row) => row.studyInstanceUid), [props.rows]);
  const sortValues = useMemo(() => props.rows.map(sortValuesOf), [props.rows]);
  // Studies that tie in the sorted column show the newest first, then by patient name.
  const sorting: RowTableSorting = { kinds: COLUMN_KINDS, values: sortValues, tieBreakColumns: [STUDY_DATE_COLUMN, PATIENT_NAME_COLUMN], language: props.language };
  const headers = [
    props.t('column.patientName'),
    props.t('column.patientId'),
    props.t('column.birthDate'),
    props.t('column.modality'),
    props.t('column.studyDate'),
    props.t('column.images'),
    props.t('column.description'),
  ];
  return h(RowTable, {
    id: props.id,
    headers,
    cells,
    rowKeys,
    onSelectionChange: props.onSelectionChange,
    onActivate: (index: number) => {
      const row = props.rows[index];
      if (row) props.onActivate?.(row.studyInstanceUid);
    },
    tableRef: props.tableRef,
    // The patient name and Patient ID tell studies apart, so the description is cut before them.
    priorityColumns: [PATIENT_NAME_COLUMN, PATIENT_ID_COLUMN],
    sorting,
  });
}
