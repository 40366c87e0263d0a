/**
 * Table of studies with the default columns. Rows are written into the
 * QTableWidget directly whenever they change, because react-nodegui's Table
 * cannot change its row count after creation.
 */
import { EditTrigger, QAbstractItemViewSelectionBehavior, QTableWidget, SelectionMode } from '@nodegui/nodegui';
import { Table } from '@nodegui/react-nodegui';
import React, { useEffect, useRef } from 'react';

import type { StudyRow } from '../controllers/app-controller';
import type { Translate } from '../i18n';
import { releaseTableItems, setTableTexts } from './table-items';

const h = React.createElement;

/** Interval of the selection check, in milliseconds. */
const SELECTION_POLL_MS = 150;

export interface StudyTableProps {
  id: string;
  rows: StudyRow[];
  t: Translate;
  onSelectionChange: (studyUids: string[]) => void;
  /** Receives the widget, for focus and keyboard shortcuts. */
  tableRef?: (table: QTableWidget | null) => void;
}

function cellsOf(row: StudyRow): string[] {
  return [row.patientName, row.patientBirthDate, row.modalities, row.studyDate, row.studyDescription];
}

/** Returns the rows covered by the table's selection ranges, in order and without repeats. */
export function selectedRowIndexes(table: QTableWidget): number[] {
  const indexes = new Set<number>();
  for (const range of table.selectedRanges()) {
    for (let row = range.topRow; row <= range.bottomRow; row++) indexes.add(row);
  }
  return [...indexes].sort((a, b) => a - b);
}

export function StudyTable(props: StudyTableProps): React.ReactElement {
  const tableRef = useRef<QTableWidget>(null);
  const rowsRef = useRef<StudyRow[]>(props.rows);
  rowsRef.current = props.rows;

  useEffect(() => {
    const table = tableRef.current;
    if (!table) return;
    table.setSelectionBehavior(QAbstractItemViewSelectionBehavior.SelectRows);
    table.setSelectionMode(SelectionMode.ExtendedSelection);
    table.setEditTriggers(EditTrigger.NoEditTriggers);
    table.setAlternatingRowColors(true);
    // Tab leaves the table instead of walking its cells, so the keyboard reaches the widgets after it.
    table.setTabKeyNavigation(false);
    table.horizontalHeader().setStretchLastSection(true);
    props.tableRef?.(table);

    // NodeGui 0.74 exposes no selection signal of QTableWidget, so the selection is compared on a timer.
    let previous = '';
    const timer = setInterval(() => {
      const rows = rowsRef.current;
      const uids = selectedRowIndexes(table).filter((index) => index < rows.length).map((index) => rows[index].studyInstanceUid);
      const key = uids.join('\\');
      if (key === previous) return;
      previous = key;
      props.onSelectionChange(uids);
    }, SELECTION_POLL_MS);
    return () => {
      clearInterval(timer);
      props.tableRef?.(null);
      releaseTableItems(table);
    };
  }, []);

  useEffect(() => {
    const table = tableRef.current;
    if (!table) return;
    setTableTexts(table, props.rows.map(cellsOf));
    table.resizeColumnsToContents();
    table.horizontalHeader().setStretchLastSection(true);
  }, [props.rows]);

  const headers = [props.t('column.patientName'), props.t('column.birthDate'), props.t('column.modality'), props.t('column.studyDate'), props.t('column.description')];
  return h(Table, {
    id: props.id,
    ref: tableRef,
    cellRange: { row: 0, column: headers.length },
    horizontalHeaderLabels: headers,
    style: 'flex: 1; min-height: 200px;',
  });
}
