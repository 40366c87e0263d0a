/**
 * Widget geometry for tests that drive the window with xdotool. With
 * LOADER_UI_TEST_HOOKS=1 the window writes every visible widget that has an
 * objectName (the `id` of a react-nodegui element) to a JSON file: its global
 * position and size, whether it is enabled and focused, and its text. Tests
 * read the file to find where to click instead of relying on fixed pixels.
 *
 * The file is LOADER_UI_TEST_HOOKS_FILE, or loader-ui-widgets-PID.json in the
 * temporary folder. It is rewritten through a rename, so readers never see a
 * partial file, and only when its content changes.
 *
 * This module must not import @nodegui/nodegui at the top level (see qt-runtime.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { QTableWidget, QTableWidgetItem, QWidget } from '@nodegui/nodegui';

import { headerSectionWidths } from './components/header-widths';
import { selectedRowIndexes } from './components/selected-rows';

/** Interval of the geometry check, in milliseconds. NodeGui 0.74 exposes no layout signal to follow instead. */
const DUMP_INTERVAL_MS = 200;

/** One named widget in the geometry file, with x and y in global screen coordinates (pixels). */
export interface WidgetRecord {
  /** objectName of the top-level window that contains the widget. */
  window: string;
  x: number;
  y: number;
  width: number;
  height: number;
  enabled: boolean;
  focused: boolean;
  /** text() of labels, buttons, check boxes and line edits, or currentText() of combo boxes. */
  text?: string;
  /** toolTip(), when it is not empty. */
  toolTip?: string;
  /** Width of a label's text in its font, in pixels. Qt cuts off a text that is wider than its label. */
  textWidth?: number;
  /** textFormat() of labels: 'auto' lets Qt show a text as HTML when Qt::mightBeRichText() guesses so. */
  textFormat?: 'plain' | 'rich' | 'auto' | 'markdown';
  checked?: boolean;
  /** rowCount() of tables. */
  rows?: number;
  /** Indexes of the selected rows of tables, in order. */
  selectedRows?: number[];
  /** columnWidth() of each column of tables, in pixels. */
  columnWidths?: number[];
  /**
   * Width in pixels that each header section of a table needs for its text
   * and the style's padding, and in the sorted section also for the sort
   * indicator (headerSectionWidths()). A column that is narrower cuts off its header text.
   */
  headerWidths?: number[];
  /** Global position and size of a table's horizontal header, in pixels, for dragging the edges of its sections. */
  horizontalHeader?: { x: number; y: number; width: number; height: number };
  /** Cells of a table whose tooltip is not empty, by row and then column. */
  cellToolTips?: { row: number; column: number; toolTip: string }[];
  /** Text of each cell of a table, one array per row in the order shown. */
  cellTexts?: string[][];
  /** Column and direction of a table's sort indicator, when the header shows one. */
  sortIndicator?: { column: number; order: 'ascending' | 'descending' };
}

export interface WidgetDump {
  /** objectName of the window that has keyboard focus, if any of the tracked windows has it. */
  activeWindow?: string;
  /** Keys are objectNames; a repeated name gets a suffix: "muted#2". */
  widgets: Record<string, WidgetRecord>;
}

const windows = new Map<string, QWidget>();
const windowRefs = new Map<string, (window: QWidget | null) => void>();

/**
 * Returns a stable React ref callback that tracks the top-level window `id`
 * while it is mounted. Only tracked windows appear in the geometry file.
 */
export function trackWindow(id: string): (window: QWidget | null) => void {
  let ref = windowRefs.get(id);
  if (!ref) {
    ref = (window) => {
      if (window) windows.set(id, window);
      else windows.delete(id);
    };
    windowRefs.set(id, ref);
  }
  return ref;
}

/** Returns the geometry file path when LOADER_UI_TEST_HOOKS=1, otherwise undefined. */
export function testHooksFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.LOADER_UI_TEST_HOOKS !== '1') return undefined;
  return env.LOADER_UI_TEST_HOOKS_FILE || path.join(os.tmpdir(), `loader-ui-widgets-${process.pid}.json`);
}

type NodeGui = typeof import('@nodegui/nodegui');

function isWidget(object: unknown): object is QWidget {
  return object !== null && object !== undefined && typeof (object as Partial<QWidget>).mapToGlobal === 'function';
}

/**
 * Returns every live widget that has a JavaScript wrapper, which includes
 * every widget that react-nodegui created, in creation order. QObject's
 * children() is not used because it throws "Invalid argument" for some
 * children of a QMainWindow in NodeGui 0.74.2.
 * NOTE: this reads WrapperCache's private maps of NodeGui 0.74.2; check them when upgrading NodeGui.
 */
function wrappedWidgets(wrapperCache: NodeGui['wrapperCache']): QWidget[] {
  const cache = wrapperCache as unknown as { _strongCache: Map<number, unknown>; _weakCache: Map<number, WeakRef<object>> };
  const wrappers: unknown[] = [...cache._strongCache.values()];
  for (const ref of cache._weakCache.values()) wrappers.push(ref.deref());
  return wrappers.filter(isWidget);
}

/** objectNames of Qt's internal widgets ("qt_scrollarea_viewport") and the random ones that react-nodegui gives its Views. */
const UNNAMED = /^qt_|^[a-z0-9]{24}$/;

/** Reads the text a user sees in the widget, by the method its class has. */
function readText(widget: QWidget): Pick<WidgetRecord, 'text' | 'toolTip' | 'checked' | 'rows' | 'selectedRows'> {
  const probe = widget as unknown as {
    text?: () => string;
    currentText?: () => string;
    isChecked?: () => boolean;
    isCheckable?: () => boolean;
    rowCount?: () => number;
    selectedRanges?: QTableWidget['selectedRanges'];
  };
  const result: Pick<WidgetRecord, 'text' | 'toolTip' | 'checked' | 'rows' | 'selectedRows'> = {};
  if (typeof probe.currentText === 'function') result.text = probe.currentText();
  else if (typeof probe.text === 'function') result.text = probe.text();
  const toolTip = widget.toolTip();
  if (toolTip !== '') result.toolTip = toolTip;
  if (typeof probe.isChecked === 'function' && (typeof probe.isCheckable !== 'function' || probe.isCheckable())) result.checked = probe.isChecked();
  if (typeof probe.rowCount === 'function') result.rows = probe.rowCount();
  if (typeof probe.selectedRanges === 'function') result.selectedRows = selectedRowIndexes(probe as Pick<QTableWidget, 'selectedRanges'>);
  return result;
}

/**
 * Reads the cells of a QTableWidget that have a tooltip, or returns undefined
 * for other widgets. QTableWidget.item() is not used, because it makes a new
 * wrapper that may delete the table's item when it is collected (see
 * table-items.ts).
 * NOTE: this reads the private set of item wrappers that QTableWidget keeps in NodeGui 0.74.2; check it when upgrading NodeGui.
 */
function readCellToolTips(nodegui: Pick<NodeGui, 'QTableWidget'>, widget: QWidget): WidgetRecord['cellToolTips'] {
  const items = (widget as unknown as { items?: unknown }).items;
  if (!(widget instanceof nodegui.QTableWidget) || !(items instanceof Set)) return undefined;
  const cells: NonNullable<WidgetRecord['cellToolTips']> = [];
  for (const item of items as Set<QTableWidgetItem>) {
    const toolTip = item.toolTip();
    if (toolTip !== '') cells.push({ row: item.row(), column: item.column(), toolTip });
  }
  return cells.sort((a, b) => a.row - b.row || a.column - b.column);
}

/** Reads the text of every cell of a QTableWidget by row, or returns undefined for other widgets, from the same wrappers as readCellToolTips(). */
function readCellTexts(nodegui: Pick<NodeGui, 'QTableWidget'>, widget: QWidget): WidgetRecord['cellTexts'] {
  const items = (widget as unknown as { items?: unknown }).items;
  if (!(widget instanceof nodegui.QTableWidget) || !(items instanceof Set)) return undefined;
  const rows: string[][] = [...Array(widget.rowCount())].map(() => []);
  for (const item of items as Set<QTableWidgetItem>) {
    const row = rows[item.row()];
    if (row) row[item.column()] = item.text();
  }
  return rows;
}

/** Reads the column and direction of a table header's sort indicator, or undefined when it shows none. */
function readSortIndicator(header: ReturnType<QTableWidget['horizontalHeader']>): WidgetRecord['sortIndicator'] {
  const column = header.sortIndicatorSection();
  if (!header.isSortIndicatorShown() || column < 0 || column >= header.count()) return undefined;
  // Qt::DescendingOrder is 1. The enum is not imported, because this module loads before Qt.
  return { column, order: header.sortIndicatorOrder() === 1 ? 'descending' : 'ascending' };
}

/** Reads the widths of the columns and the widths their header texts need, for tables. */
function readColumns(nodegui: Pick<NodeGui, 'QPoint'>, widget: QWidget): Pick<WidgetRecord, 'columnWidths' | 'headerWidths' | 'horizontalHeader' | 'sortIndicator'> {
  const probe = widget as unknown as Partial<Pick<QTableWidget, 'columnCount' | 'columnWidth' | 'horizontalHeader'>>;
  if (typeof probe.columnCount !== 'function' || typeof probe.columnWidth !== 'function' || typeof probe.horizontalHeader !== 'function') return {};
  const header = probe.horizontalHeader();
  const columns = [...Array(probe.columnCount()).keys()];
  const origin = header.mapToGlobal(new nodegui.QPoint(0, 0));
  const size = header.size();
  const sortIndicator = readSortIndicator(header);
  return {
    columnWidths: columns.map((column) => probe.columnWidth!(column)),
    headerWidths: headerSectionWidths(header),
    horizontalHeader: { x: origin.x(), y: origin.y(), width: size.width(), height: size.height() },
    ...(sortIndicator === undefined ? {} : { sortIndicator }),
  };
}

/** Returns the width in pixels of a label's text in the label's font, or undefined for other widgets. */
function labelTextWidth(nodegui: Pick<NodeGui, 'QFontMetrics' | 'QLabel'>, widget: QWidget, text: string | undefined): number | undefined {
  if (!(widget instanceof nodegui.QLabel) || text === undefined) return undefined;
  return new nodegui.QFontMetrics(widget.font()).horizontalAdvance(text);
}

/** Qt::TextFormat by value. The enum is not imported, because this module loads before Qt. */
const TEXT_FORMATS: NonNullable<WidgetRecord['textFormat']>[] = ['plain', 'rich', 'auto', 'markdown'];

/** Returns the text format of a label, or undefined for other widgets. */
function labelTextFormat(nodegui: Pick<NodeGui, 'QLabel'>, widget: QWidget): WidgetRecord['textFormat'] {
  return widget instanceof nodegui.QLabel ? TEXT_FORMATS[widget.textFormat()] : undefined;
}

/** Records the visible named widgets of the tracked windows. */
export function collectWidgets(nodegui: Pick<NodeGui, 'QFontMetrics' | 'QLabel' | 'QPoint' | 'QTableWidget' | 'wrapperCache'>): WidgetDump {
  const dump: WidgetDump = { widgets: {} };
  const add = (name: string, record: WidgetRecord) => {
    let key = name;
    for (let copy = 2; key in dump.widgets; copy++) key = `${name}#${copy}`;
    dump.widgets[key] = record;
  };
  const windowIds = new Map<number, string>();
  for (const [id, window] of windows) {
    try {
      windowIds.set(window._id(), id);
      if (window.isActiveWindow()) dump.activeWindow = id;
    } catch {
      // NodeGui throws "Invalid argument" once the native window is deleted; React may not have unmounted it yet.
      windows.delete(id);
    }
  }
  for (const widget of wrappedWidgets(nodegui.wrapperCache)) {
    try {
      const name = widget.objectName();
      if (name === '' || UNNAMED.test(name) || !widget.isVisible()) continue;
      const windowId = windowIds.get(widget.window()._id());
      if (windowId === undefined) continue;
      const origin = widget.mapToGlobal(new nodegui.QPoint(0, 0));
      const size = widget.size();
      const texts = readText(widget);
      const textWidth = labelTextWidth(nodegui, widget, texts.text);
      const textFormat = labelTextFormat(nodegui, widget);
      const cellToolTips = readCellToolTips(nodegui, widget);
      const cellTexts = readCellTexts(nodegui, widget);
      add(name, {
        window: windowId,
        x: origin.x(),
        y: origin.y(),
        width: size.width(),
        height: size.height(),
        enabled: widget.isEnabled(),
        focused: widget.hasFocus(),
        ...texts,
        ...readColumns(nodegui, widget),
        ...(cellToolTips === undefined ? {} : { cellToolTips }),
        ...(cellTexts === undefined ? {} : { cellTexts }),
        ...(textWidth === undefined ? {} : { textWidth }),
        ...(textFormat === undefined ? {} : { textFormat }),
      });
    } catch {
      // A widget whose native object was deleted a moment ago; it is no longer shown.
    }
  }
  return dump;
}

/**
 * Starts writing the geometry file every DUMP_INTERVAL_MS while it changes.
 * Returns the function that stops it and removes the file.
 */
export function startWidgetDump(file: string): () => void {
  // Loaded only here, because the shim must be loaded before the addon.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const nodegui = require('@nodegui/nodegui') as NodeGui;
  let previous = '';
  const timer = setInterval(() => {
    const text = JSON.stringify(collectWidgets(nodegui), null, 1);
    if (text === previous) return;
    previous = text;
    const partial = `${file}.partial`;
    fs.writeFileSync(partial, text);
    fs.renameSync(partial, file);
  }, DUMP_INTERVAL_MS);
  return () => {
    clearInterval(timer);
    fs.rmSync(file, { force: true });
  };
}
