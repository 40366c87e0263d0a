/**
 * Read-only table of text rows that selects whole rows, shared by the study
 * table and the SSH file table. Rows are written into the QTableWidget
 * directly whenever they change, because react-nodegui's Table cannot change
 * its row count after creation. Cells go through table-items.ts, because
 * NodeGui 0.74.2 crashes when the table deletes its own items.
 */
import { EditTrigger, QAbstractItemViewSelectionBehavior, QTableWidget, SelectionMode } from '@nodegui/nodegui';
import { Table } from '@nodegui/react-nodegui';
import React, { useEffect, useRef } from 'react';

import { releaseTableItems, setTableTexts } from './table-items';

const h = React.createElement;

/** Interval of the selection check, in milliseconds. */
const SELECTION_POLL_MS = 150;

export interface RowTableProps {
  id: string;
  headers: string[];
  /** Text of each cell, one array per row, in the order of `headers`. */
  cells: string[][];
  /** Key of each row, reported for selected rows. Rows with an empty key, such as the ".." row, are never reported. */
  rowKeys: string[];
  /** Receives the keys of the selected rows, in row order, whenever they change. */
  onSelectionChange: (keys: string[]) => void;
  /** Receives the row index of a double-click or of Enter on the current row. */
  onActivate?: (row: number) => void;
  /** Receives the widget, for focus and keyboard shortcuts. */
  tableRef?: (table: QTableWidget | null) => void;
}

/** Returns the rows covered by the table's selection ranges, in order and without repeats. */
export function selectedRowIndexes(table: QTableWidget): number[] {
  const indexes = new Set<number>();
  for (const range of table.selectedRanges()) {
    for (let row = range.topRow; row <= range.bottomRow; row++) indexes.add(row);
  }
  return [...indexes].sort((a, b) => a - b);
}

/** Sets the behaviour that both tables share: whole rows, several at a time, no editing. */
function configureTable(table: QTableWidget): void {
  table.setSelectionBehavior(QAbstractItemViewSelectionBehavior.SelectRows);
  table.setSelectionMode(SelectionMode.ExtendedSelection);
  table.setEditTriggers(EditTrigger.NoEditTriggers);
  table.setAlternatingRowColors(true);
  // Tab leaves the table instead of walking its cells, so the keyboard reaches the widgets after it.
  table.setTabKeyNavigation(false);
  table.horizontalHeader().setStretchLastSection(true);
}

export function RowTable(props: RowTableProps): React.ReactElement {
  const tableRef = useRef<QTableWidget>(null);
  const propsRef = useRef(props);
  propsRef.current = props;

  useEffect(() => {
    const table = tableRef.current;
    if (!table) return;
    configureTable(table);
    // Qt emits cellActivated for a double-click and for Enter on the current row.
    table.addEventListener('cellActivated', (row: number) => propsRef.current.onActivate?.(row));
    props.tableRef?.(table);

    // NodeGui 0.74 exposes no selection signal of QTableWidget, so the selection is compared on a timer.
    let previous = '';
    const timer = setInterval(() => {
      const keys = propsRef.current.rowKeys;
      const selected = selectedRowIndexes(table)
        .map((index) => keys[index] ?? '')
        .filter((key) => key !== '');
      const joined = selected.join('\n');
      if (joined === previous) return;
      previous = joined;
      propsRef.current.onSelectionChange(selected);
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
    setTableTexts(table, props.cells);
  }, [props.cells]);

  // Column widths follow the cells and the header texts, which change with the language.
  const headerKey = props.headers.join('\n');
  useEffect(() => {
    const table = tableRef.current;
    if (!table) return;
    table.resizeColumnsToContents();
    table.horizontalHeader().setStretchLastSection(true);
  }, [props.cells, headerKey]);

  return h(Table, {
    id: props.id,
    ref: tableRef,
    cellRange: { row: 0, column: props.headers.length },
    horizontalHeaderLabels: props.headers,
    style: 'flex: 1; min-height: 200px;',
  });
}
