/**
 * File table of an SSH panel: name, size and date modified of each entry of
 * the remote folder, folders first, with a ".." row to go up. Double-click or
 * Enter on a row raises onActivate; the panel enters folders.
 */
import { EditTrigger, QAbstractItemViewSelectionBehavior, QTableWidget, QTableWidgetItem, SelectionMode } from '@nodegui/nodegui';
import { Table } from '@nodegui/react-nodegui';
import React, { useEffect, useRef } from 'react';

import type { RemoteRow } from '../controllers/ssh-panel-controller';
import { formatSize } from '../controllers/ssh-panel-controller';
import type { Translate } from '../i18n';
import { selectedRowIndexes } from './study-table';

const h = React.createElement;

/** Interval of the selection check, in milliseconds, as in the study table. */
const SELECTION_POLL_MS = 150;

/** Name of the row that goes up one folder. */
export const PARENT_ROW_NAME = '..';

export interface RemoteFileTableProps {
  id: string;
  /** Rows of the folder; the ".." row is added in front when `canGoUp` is set. */
  rows: RemoteRow[];
  canGoUp: boolean;
  t: Translate;
  /** Receives the remote paths of the selected rows, without the ".." row. */
  onSelectionChange: (paths: string[]) => void;
  /** Raised by double-click or Enter; undefined for the ".." row. */
  onActivate: (row: RemoteRow | undefined) => void;
  tableRef?: (table: QTableWidget | null) => void;
}

/** Formats an ISO 8601 time as YYYY-MM-DD HH:MM in this computer's time zone, to the minute. */
function formatLocalTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function cellsOf(row: RemoteRow): string[] {
  const name = row.type === 'folder' ? `${row.name}/` : row.name;
  const size = row.type === 'folder' ? '' : formatSize(row.size);
  const modified = formatLocalTime(row.modified);
  return [row.unsafeName === undefined ? name : `${JSON.stringify(row.name)} (${row.unsafeName})`, size, modified];
}

export function RemoteFileTable(props: RemoteFileTableProps): React.ReactElement {
  const tableRef = useRef<QTableWidget>(null);
  const items = useRef<QTableWidgetItem[]>([]);
  const propsRef = useRef(props);
  propsRef.current = props;
  /** Returns the row at a table index, or undefined for the ".." row. */
  const rowAt = (index: number): RemoteRow | undefined => {
    const current = propsRef.current;
    return current.rows[current.canGoUp ? index - 1 : index];
  };

  useEffect(() => {
    const table = tableRef.current;
    if (!table) return;
    table.setSelectionBehavior(QAbstractItemViewSelectionBehavior.SelectRows);
    table.setSelectionMode(SelectionMode.ExtendedSelection);
    table.setEditTriggers(EditTrigger.NoEditTriggers);
    table.setAlternatingRowColors(true);
    table.setTabKeyNavigation(false);
    table.horizontalHeader().setStretchLastSection(true);
    // Qt emits cellActivated for a double-click and for Enter on the current row.
    table.addEventListener('cellActivated', (index: number) => propsRef.current.onActivate(rowAt(index)));
    props.tableRef?.(table);

    // NodeGui 0.74 exposes no selection signal of QTableWidget, so the selection is compared on a timer.
    let previous = '';
    const timer = setInterval(() => {
      const paths = selectedRowIndexes(table)
        .map(rowAt)
        .filter((row): row is RemoteRow => row !== undefined)
        .map((row) => row.path);
      const key = paths.join('\n');
      if (key === previous) return;
      previous = key;
      propsRef.current.onSelectionChange(paths);
    }, SELECTION_POLL_MS);
    return () => {
      clearInterval(timer);
      props.tableRef?.(null);
    };
  }, []);

  useEffect(() => {
    const table = tableRef.current;
    if (!table) return;
    table.clearContents();
    const cells = props.rows.map(cellsOf);
    if (props.canGoUp) cells.unshift([PARENT_ROW_NAME, '', '']);
    table.setRowCount(cells.length);
    items.current = [];
    cells.forEach((texts, rowIndex) => {
      texts.forEach((text, column) => {
        const item = new QTableWidgetItem(text);
        items.current.push(item);
        table.setItem(rowIndex, column, item);
      });
    });
    table.resizeColumnsToContents();
    table.horizontalHeader().setStretchLastSection(true);
  }, [props.rows, props.canGoUp]);

  const headers = [props.t('column.name'), props.t('column.size'), props.t('column.modified')];
  return h(Table, {
    id: props.id,
    ref: tableRef,
    cellRange: { row: 0, column: headers.length },
    horizontalHeaderLabels: headers,
    style: 'flex: 1; min-height: 200px;',
  });
}
