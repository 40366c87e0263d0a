/**
 * File table of an SSH panel: name, size and date modified of each entry of
 * the remote folder, folders first, with a ".." row to go up. Double-click or
 * Enter on a row raises onActivate; the panel enters folders.
 */
import type { QTableWidget } from '@nodegui/nodegui';
import React, { useMemo } from 'react';

import type { RemoteRow } from '../controllers/ssh-panel-controller';
import { formatSize } from '../../services/format-size';
import type { Translate } from '../i18n';
import { RowTable } from './row-table';

const h = React.createElement;

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
  const { rows, canGoUp, onActivate } = props;
  const cells = useMemo(() => (canGoUp ? [[PARENT_ROW_NAME, '', ''], ...rows.map(cellsOf)] : rows.map(cellsOf)), [rows, canGoUp]);
  // The ".." row has an empty key, so it is never part of the selection.
  const rowKeys = useMemo(() => (canGoUp ? ['', ...rows.map((row) => row.path)] : rows.map((row) => row.path)), [rows, canGoUp]);
  /** Returns the row at a table index, or undefined for the ".." row. */
  const rowAt = (index: number): RemoteRow | undefined => rows[canGoUp ? index - 1 : index];

  const headers = [props.t('column.name'), props.t('column.size'), props.t('column.modified')];
  return h(RowTable, {
    id: props.id,
    headers,
    cells,
    rowKeys,
    onSelectionChange: props.onSelectionChange,
    onActivate: (index: number) => onActivate(rowAt(index)),
    tableRef: props.tableRef,
  });
}
