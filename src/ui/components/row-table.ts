/**
 * Read-only table of text rows that selects whole rows, shared by the study
 * table and the SSH file table. Rows are written into the QTableWidget
 * directly whenever they change, because react-nodegui's Table cannot change
 * its row count after creation. Cells go through table-items.ts, because
 * NodeGui 0.74.2 crashes when the table deletes its own items.
 */
import { EditTrigger, QAbstractItemViewSelectionBehavior, QTableWidget, SelectionFlag, SelectionMode, WidgetEventTypes } from '@nodegui/nodegui';
import type { QModelIndex } from '@nodegui/nodegui';
import { Table } from '@nodegui/react-nodegui';
import React, { useEffect, useMemo, useRef, useState } from 'react';

import { escapeControlCharacters } from '../../services/control-characters';
import { ColumnWidths } from './column-widths';
import { HeaderSort } from './header-sort';
import { selectedRowIndexes } from './selected-rows';
import { releaseTableItems, setTableTexts } from './table-items';
import { sortedRowOrder } from './table-sort';
import type { ColumnKind, SortState, SortValue } from './table-sort';

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
  /** Columns that keep their content width longest when the columns do not fit the table. */
  priorityColumns?: number[];
  /** Sorting by a click on a column header. Without it the header does not sort and the rows keep the order of `cells`. */
  sorting?: RowTableSorting;
}

export interface RowTableSorting {
  /** Comparison kind of each column, in the order of `headers`. */
  kinds: ColumnKind[];
  /** Sort value of each cell, one array per row, in the order of `cells`. */
  values: SortValue[][];
  /** Columns that order the rows that tie in the sorted column. */
  tieBreakColumns?: number[];
  /** Language of the interface, whose collation orders the text columns. */
  language: string;
}

/**
 * Selects exactly the rows at `indexes`, which are ascending, and makes
 * `current` the current row when it is defined. The rows are selected through
 * the selection model with one call per row that differs from "all rows
 * selected" or from "no row selected", whichever is closer. So a filtered
 * or sorted list whose rows all stay selected needs no call per row.
 * selectRow() is not used. In ExtendedSelection mode it reads the keyboard
 * modifiers to decide whether to clear the selection. In MultiSelection mode
 * its time grew with the cube of the row count: 1000 rows took 8 s and 2000
 * rows about a minute (NodeGui 0.74.2 under Xvfb, 2-core machine).
 */
function selectRows(table: QTableWidget, indexes: number[], current: number | undefined): void {
  table.clearSelection();
  if (indexes.length === 0 && current === undefined) return;
  const model = table.selectionModel();
  // NodeGui 0.74.2 offers no index() of the table's model, and its currentIndex() and indexAt() return unusable
  // QModelIndex objects. Those of selectedRows() work, so every row is selected first to get one per row.
  table.selectAll();
  const rowIndexes: QModelIndex[] = [];
  for (const index of model.selectedRows(0)) rowIndexes[index.row()] = index;
  const rowCount = table.rowCount();
  if (indexes.length * 2 >= rowCount) {
    const selected = new Set(indexes);
    for (let row = 0; row < rowCount; row++) {
      if (!selected.has(row)) model.select(rowIndexes[row], SelectionFlag.Deselect | SelectionFlag.Rows);
    }
  } else {
    table.clearSelection();
    for (const row of indexes) model.select(rowIndexes[row], SelectionFlag.Select | SelectionFlag.Rows);
  }
  const currentIndex = current === undefined ? undefined : rowIndexes[current];
  if (currentIndex !== undefined) model.setCurrentIndex(currentIndex, SelectionFlag.NoUpdate);
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
  // Keys of the rows in the table now; props.rowKeys may be newer until the effect below writes the rows.
  const shownKeys = useRef<string[]>([]);
  // Index in props.cells of each row in the table now, for onActivate.
  const shownOrder = useRef<number[]>([]);
  const columnWidths = useRef<ColumnWidths>();
  const shownHeaderKey = useRef<string>();
  const [sort, setSort] = useState<SortState>();

  // The rows in the order of the sort. The sort stays when the rows change, such as when a study arrives.
  const { sorting } = props;
  const order = useMemo(() => {
    const identity = props.cells.map((_, index) => index);
    if (!sorting || !sort) return identity;
    return sortedRowOrder({ values: sorting.values, rowKeys: props.rowKeys, kinds: sorting.kinds, sort, tieBreakColumns: sorting.tieBreakColumns, language: sorting.language });
  }, [props.cells, props.rowKeys, sorting?.values, sorting?.language, sort]);
  // Control characters show as escapes, so a stored value cannot split a row's text or reverse it.
  const cells = useMemo(() => order.map((index) => props.cells[index].map(escapeControlCharacters)), [order]);
  // Keys last passed to onSelectionChange, joined by newlines.
  const reportedSelection = useRef('');

  /** Passes the keys of the selected rows to onSelectionChange when they differ from the keys passed last. */
  const reportSelection = (table: QTableWidget) => {
    const keys = shownKeys.current;
    const selected = selectedRowIndexes(table)
      .map((index) => keys[index] ?? '')
      .filter((key) => key !== '');
    const joined = selected.join('\n');
    if (joined === reportedSelection.current) return;
    reportedSelection.current = joined;
    propsRef.current.onSelectionChange(selected);
  };

  useEffect(() => {
    const table = tableRef.current;
    if (!table) return;
    configureTable(table);
    const widths = (columnWidths.current ??= new ColumnWidths(table, props.priorityColumns));
    // Qt emits cellActivated for a double-click and for Enter on the current row.
    table.addEventListener('cellActivated', (row: number) => {
      const index = shownOrder.current[row];
      if (index !== undefined) propsRef.current.onActivate?.(index);
    });
    props.tableRef?.(table);
    const headerSort = props.sorting ? new HeaderSort(table, (column) => propsRef.current.sorting?.kinds[column] ?? 'text') : undefined;

    // The first fit below runs before the main window sets the style sheet's font and header padding, and an
    // empty table is not fitted again. Qt sends StyleChange and FontChange when a style sheet applies, and the
    // header may be polished after the table, so the columns are widened after the event.
    let widenTimer: NodeJS.Timeout | undefined;
    const scheduleWiden = () => {
      if (widenTimer !== undefined) return;
      widenTimer = setTimeout(() => {
        widenTimer = undefined;
        widths.widenToHeaders();
      }, 0);
    };
    table.addEventListener(WidgetEventTypes.StyleChange, scheduleWiden);
    table.addEventListener(WidgetEventTypes.FontChange, scheduleWiden);
    // The columns share the table's width, which changes with the window and the panel layout.
    table.addEventListener(WidgetEventTypes.Resize, () => widths.followTableWidth());

    // NodeGui 0.74 exposes no selection signal of QTableWidget, so the selection is compared on a timer.
    const timer = setInterval(() => {
      const clicked = headerSort?.poll();
      if (clicked) setSort(clicked);
      reportSelection(table);
    }, SELECTION_POLL_MS);
    return () => {
      clearInterval(timer);
      clearTimeout(widenTimer);
      props.tableRef?.(null);
      releaseTableItems(table);
    };
  }, []);

  // New rows keep the selection and the current row by key, so a refreshed or sorted list still selects the
  // studies the user chose, and a selected study that is no longer listed is deselected.
  useEffect(() => {
    const table = tableRef.current;
    if (!table) return;
    const previousKeys = shownKeys.current;
    const selectedKeys = new Set(selectedRowIndexes(table).map((index) => previousKeys[index] ?? ''));
    selectedKeys.delete('');
    const currentKey = previousKeys[table.currentRow()];
    const rowKeys = order.map((index) => props.rowKeys[index]);
    const items = setTableTexts(table, cells);
    (columnWidths.current ??= new ColumnWidths(table, props.priorityColumns)).setItems(items, cells);
    shownKeys.current = rowKeys;
    shownOrder.current = order;
    const keep = rowKeys.flatMap((key, index) => (selectedKeys.has(key) ? [index] : []));
    const current = currentKey === undefined || currentKey === '' ? -1 : rowKeys.indexOf(currentKey);
    if (keep.length > 0) {
      selectRows(table, keep, current >= 0 ? current : undefined);
    } else {
      table.clearSelection();
      // Filling the rows makes the first row current, so the first Down would select the second row.
      table.setCurrentCell(-1, -1);
    }
    // Reported now, not at the next poll, so the panel never counts more selected studies than it lists.
    reportSelection(table);
  }, [cells]);

  // Column widths follow the cells and the header texts, which change with the language. A column that the user
  // resized keeps its width when the rows change, such as on the Local panel's automatic listings while the
  // server receives instances, and is fitted again only when the header texts change.
  const headerKey = props.headers.join('\n');
  useEffect(() => {
    const table = tableRef.current;
    if (!table) return;
    const widths = (columnWidths.current ??= new ColumnWidths(table, props.priorityColumns));
    const headersChanged = shownHeaderKey.current !== undefined && shownHeaderKey.current !== headerKey;
    shownHeaderKey.current = headerKey;
    widths.fit(headersChanged);
  }, [cells, headerKey]);

  return h(Table, {
    id: props.id,
    ref: tableRef,
    cellRange: { row: 0, column: props.headers.length },
    horizontalHeaderLabels: props.headers,
    style: 'flex: 1; min-height: 200px;',
  });
}
