/** Table of studies with the default columns. */
import type { QTableWidget } from '@nodegui/nodegui';
import React, { useMemo } from 'react';

import type { StudyRow } from '../controllers/app-controller';
import type { Translate } from '../i18n';
import { RowTable } from './row-table';

const h = React.createElement;

export interface StudyTableProps {
  id: string;
  rows: StudyRow[];
  t: Translate;
  onSelectionChange: (studyUids: string[]) => void;
  /** Receives the study of a double-click or of Enter on the current row. */
  onActivate?: (studyInstanceUid: string) => void;
  /** Receives the widget, for focus and keyboard shortcuts. */
  tableRef?: (table: QTableWidget | null) => void;
}

function cellsOf(row: StudyRow): string[] {
  return [row.patientName, row.patientBirthDate, row.modalities, row.studyDate, row.studyDescription];
}

export function StudyTable(props: StudyTableProps): React.ReactElement {
  const cells = useMemo(() => props.rows.map(cellsOf), [props.rows]);
  const rowKeys = useMemo(() => props.rows.map((row) => row.studyInstanceUid), [props.rows]);
  const headers = [props.t('column.patientName'), props.t('column.birthDate'), props.t('column.modality'), props.t('column.studyDate'), props.t('column.description')];
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
    // The patient name tells studies apart, so the description is cut before it.
    priorityColumns: [0],
  });
}
