/**
 * The dual-panel main window: two panels, the transfer buttons between them,
 * the status bar with the PACS On switch, and the dialogs it opens. Service
 * calls go through AppController and run asynchronously, so the window keeps
 * processing events while they work.
 */
import { QApplication, QKeySequence, QLineEdit, QMainWindow, QShortcut, QTableWidget, QTimerEvent, WidgetEventTypes } from '@nodegui/nodegui';
import type { NativeRawPointer } from '@nodegui/nodegui/dist/lib/core/Component';
import { Button, CheckBox, ProgressBar, Text, View, Window } from '@nodegui/react-nodegui';
import React, { useEffect, useRef, useState } from 'react';

import type { DeletionPlan, LocalArchive } from '../../services/archive';
import { createLogger } from '../../services/logger';
import type { AssociationRejection } from '../../services/pacs-server/pacs-server';
import type { ReceivedInstance } from '../../services/pacs-server/store-service';
import type { InterfaceSettings } from '../../services/settings/settings-types';
import { LocalFolderError } from '../controllers/app-controller';
import type { AppController, LocationEntry, PanelConnection, ServerState, TransferFailure, TransferProgress } from '../controllers/app-controller';
import { describeSshError, parentFolder, sshProgressText } from '../controllers/ssh-panel-controller';
import type { HostKeyPrompt, RemoteRow, SshFetchProgress } from '../controllers/ssh-panel-controller';
import { describeNetworkError } from '../controllers/network-errors';
import { keptSelection, localArchivesShown, panelKindChange, sidesShowingArchive, sideToOpen, sshListingFailure } from '../controllers/panel-state';
import { describeKeptAside } from '../controllers/kept-aside';
import type { KeptAsideNotice } from '../controllers/kept-aside';
import { describeRejectedCaller, withoutRegisteredCaller } from '../controllers/rejected-callers';
import type { RejectedCallerNotice } from '../controllers/rejected-callers';
import { withNotice, withoutNotice } from '../controllers/repeated-notices';
import { openProgressText, StudyRetrieveError } from '../controllers/study-opener';
import type { PanelSelection } from '../controllers/study-opener';
import { translator } from '../i18n';
import type { LocalizedText, Translate } from '../i18n';
import { styleSheetFor } from '../themes';
import { trackWindow } from '../test-hooks';
import { deletionConfirmText, deletionFailures, deletionResultText } from './deletion-texts';
import { activate, ConfirmDialog, FillDialog, SendDialog } from './dialogs';
import { ElidedText } from './elided-text';
import { NoticeBars } from './notice-bars';
import { pacsFieldsProblem, settingsErrorText } from './settings-input';
import { dateFilterOf, initialPanelState, Panel } from './panel';
import type { PanelState } from './panel';
import { relayoutWindow } from './relayout';
import { importDoneText, mediaReadText, progressText, scanDoneText, selectedPatientsText, transferResultText } from './status-texts';
import type { TransferDirection } from './status-texts';
import { LicenseWindow, SettingsWindow } from './settings-window';
import { TrayIcon } from './tray-icon';
import { x11SystemTrayAvailable } from '../x11-system-tray';

const h = React.createElement;
const log = createLogger('loader.ui');

type Side = 'left' | 'right';

/** Width in pixels that each of the status bar's texts keeps when the other one is long. */
const STATUS_TEXT_MIN_WIDTH = 120;

/** Delay before the main window takes the keyboard focus back from a closed dialog, in milliseconds. */
const REACTIVATE_DELAY_MS = 150;

/**
 * Minimum and initial size of the main window, in pixels. The two panels
 * share the width equally, and at 1360 every panel kind fits its Russian
 * strings without clipping (test/ui/window.test.ts checks it under Xvfb with
 * DejaVu Sans 13 px, the font of the style sheet). It still fits a 1366 x 768 screen.
 */
export const MAIN_WINDOW_MIN_SIZE = { width: 1360, height: 680 } as const;

/**
 * Keys of the window's shortcuts: F5 sends from the left panel to the right one, Shift+F5 back.
 * Ctrl+W closes the window, which hides it when the tray icon is shown. Delete deletes the selected
 * studies of the Local panel whose table has the keyboard focus; a text field keeps Delete for itself.
 */
export const SHORTCUTS = { sendRight: 'F5', sendLeft: 'Shift+F5', focusFilter: 'Ctrl+F', openStudy: 'Ctrl+Return', closeWindow: 'Ctrl+W', deleteStudies: 'Delete' } as const;

type Dialog =
  | { type: 'none' }
  | { type: 'send'; from: Side }
  | { type: 'fill'; side: Side }
  | { type: 'scan'; side: Side }
  | { type: 'import'; side: Side }
  | { type: 'delete'; side: Side; plan: DeletionPlan }
  | { type: 'hostKey'; side: Side; prompt: HostKeyPrompt }
  | { type: 'sshSend'; from: Side }
  | { type: 'settings' }
  | { type: 'closeDuringTransfer' }
  | { type: 'license'; problem: string };

interface StatusState {
  /** Formats the text in the language shown when the status bar renders, so a language switch changes it too. */
  text: LocalizedText;
  percent: number;
  failures: TransferFailure[];
}

/** A transfer that runs now, so that closing the window can cancel it and log what was cut off. */
interface RunningTransfer {
  from: Side;
  source: string;
  target: string;
  /** Study Instance UIDs of a PACS or Local source, or the remote paths of an SSH source. */
  items: string[];
  abort: AbortController;
  /** Settles when runTransfer has finished with the transfer, whatever its outcome. */
  finished: Promise<void>;
}

/**
 * Time that a cancelled transfer gets to stop before the window closes the
 * archives anyway, in milliseconds. C-GET, C-MOVE and C-STORE stop at the
 * next instance, but an SSH download does not watch the signal.
 */
const CLOSE_ABORT_WAIT_MS = 10_000;

export interface MainWindowProps {
  controller: AppController;
  /** Called after the main window closed and the controller released its resources. */
  onClosed: () => void;
}

function other(side: Side): Side {
  return side === 'left' ? 'right' : 'left';
}

/** Logs the row count of a connected PACS or Local panel at debug level; bench/window.js times the listing by this line. */
function logStudyRowsShown(side: Side, state: PanelState): void {
  if (state.connection !== undefined && state.kind !== 'ssh') log.debug('study rows shown', { side, rows: state.rows.length });
}

/**
 * Clears the accept flag of a Qt event, so a Close event leaves the window
 * open. NodeGui 0.74 exports no QEvent or QCloseEvent wrapper, so a
 * QTimerEvent wrapper is put around the pointer: ignore() is QEvent's own
 * non-virtual method and reads nothing of the subclass.
 */
function ignoreEvent(nativeEvent: NativeRawPointer<'QEvent'>): void {
  new QTimerEvent(nativeEvent).ignore();
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Returns the window's text for an error: a summary of a network error in the language of `t`, else the error's own message. */
function errorText(t: Translate, error: unknown): string {
  return describeNetworkError(t, error) ?? describeSshError(t, error);
}

/** Returns the status fields of a progress event, with a text that follows the language shown. */
function localizedProgress<P>(t: Translate, format: (t: Translate, progress: P) => { text: string; percent: number }, progress: P): Pick<StatusState, 'text' | 'percent'> {
  return { text: (shown) => format(shown, progress).text, percent: format(t, progress).percent };
}

export function MainWindow(props: MainWindowProps): React.ReactElement {
  const { controller } = props;
  const [ui, setUi] = useState<InterfaceSettings>(controller.settings.settings.interface);
  const t = translator(ui.language);
  const styleSheet = styleSheetFor(ui.theme);
  const [panels, setPanels] = useState<Record<Side, PanelState>>(() => {
    // The PACS fields start with the first registered node, or empty with a hint when none is registered.
    const firstNode = controller.settings.listPacsNodes()[0];
    const left = initialPanelState('pacs', controller.options.archiveRoot, firstNode);
    return {
      left: firstNode === undefined ? { ...left, message: t('panel.noPacsNodes') } : left,
      right: initialPanelState('local', controller.options.archiveRoot, firstNode),
    };
  });
  const [dialog, setDialog] = useState<Dialog>(() => {
    const status = controller.licenseStatus();
    return status.state === 'active' ? { type: 'none' } : { type: 'license', problem: status.message };
  });
  const [status, setStatus] = useState<StatusState>({ text: (t) => t('status.ready'), percent: 0, failures: [] });
  const [server, setServer] = useState<ServerState>(controller.serverState());
  const [serverBusy, setServerBusy] = useState(false);
  // An object, because React's setState would call a bare function as an updater.
  const [serverMessage, setServerMessage] = useState<{ text: LocalizedText } | undefined>(undefined);
  // Rejected associations, one notice per calling AE title, newest first. A repeat replaces its notice with a higher count.
  const [rejectedCallers, setRejectedCallers] = useState<RejectedCallerNotice[]>([]);
  // Instances that the server kept aside in .conflicts, one notice per sender and cause, as for rejections.
  const [keptAside, setKeptAside] = useState<KeptAsideNotice[]>([]);
  const [settingsVersion, setSettingsVersion] = useState(0);
  // Only a change re-renders the window, so the tray menu gets its texts from the effect that runs after each render.
  const [, setTrayShown] = useState(false);
  const windowRef = useRef<QMainWindow>(null);
  const widgets = useRef<Record<Side, { filter?: QLineEdit | null; table?: QTableWidget | null }>>({ left: {}, right: {} });
  const panelsRef = useRef(panels);
  panelsRef.current = panels;
  const trayRef = useRef<TrayIcon>();
  const transferRef = useRef<RunningTransfer>();
  // True while a deletion runs, so that neither a second deletion nor a transfer starts before it ends.
  const deletingRef = useRef(false);
  // The panel whose fields or selection the user changed last, for Ctrl+Enter.
  const lastUsedSide = useRef<Side>();

  useEffect(() => {
    QApplication.instance().setStyleSheet(styleSheet);
  }, [styleSheet]);

  // Texts of the other language have other widths, which NodeGui's layout notices only on a resize.
  const shownLanguage = useRef(ui.language);
  useEffect(() => {
    if (ui.language === shownLanguage.current || !windowRef.current) return;
    shownLanguage.current = ui.language;
    relayoutWindow(windowRef.current);
  }, [ui.language]);

  const update = (side: Side, changes: Partial<PanelState>) => setPanels((current) => ({ ...current, [side]: { ...current[side], ...changes } }));

  const refreshLocal = (side: Side, state: PanelState = panelsRef.current[side]) => {
    if (state.connection?.kind !== 'local') return;
    try {
      update(side, { rows: controller.searchLocal(state.connection.archive, state.filterText) });
    } catch (error) {
      update(side, { message: describeError(error) });
    }
  };

  // A folder that no panel shows any more is closed, so a disc can be unmounted. One in use closes when its operation ends.
  const shownArchives = useRef<LocalArchive[]>([]);
  useEffect(() => {
    const shown = localArchivesShown(panels);
    for (const archive of shownArchives.current) controller.releaseArchive(archive, shown);
    shownArchives.current = shown;
  }, [panels.left.connection, panels.right.connection]);

  // The local filter applies as the user types: the archive index answers from SQLite in milliseconds.
  useEffect(() => refreshLocal('left'), [panels.left.connection, panels.left.filterText]);
  useEffect(() => refreshLocal('right'), [panels.right.connection, panels.right.filterText]);
  // A Local panel that shows the server's archive lists it again after the server stored instances, with its filter
  // and selection. ArchiveChangeNotifier collects the instances, so a large study does not redraw the table per instance.
  useEffect(
    () =>
      controller.archiveChanges.subscribe((change) => {
        for (const side of sidesShowingArchive(panelsRef.current, change.root)) {
          log.debug('local panel listed again after the server stored instances', { side, instances: change.instances, studies: change.studyInstanceUids.length });
          refreshLocal(side);
        }
      }),
    [],
  );
  useEffect(() => controller.rejectedCallers.subscribe((notice) => setRejectedCallers((shown) => withNotice(shown, notice))), []);
  useEffect(() => controller.keptAside.subscribe((notice) => setKeptAside((shown) => withNotice(shown, notice))), []);
  // React runs the study tables' effects before these, so the rows are already in Qt when the line is logged.
  useEffect(() => logStudyRowsShown('left', panels.left), [panels.left.rows]);
  useEffect(() => logStudyRowsShown('right', panels.right), [panels.right.rows]);

  /** Searches a PACS panel's node with its filters, or lists a Local panel's archive again. */
  const search = async (side: Side) => {
    const state = panelsRef.current[side];
    if (state.connection?.kind === 'local') refreshLocal(side);
    if (state.connection?.kind !== 'pacs') return;
    setStatus((current) => ({ ...current, text: (t) => t('status.searching'), percent: 0 }));
    try {
      const rows = await controller.searchPacs(state.connection.node, { date: dateFilterOf(state), modalities: state.modalities });
      update(side, { rows, message: '' });
      setStatus({ text: (t) => t('status.found', { count: rows.length }), percent: 0, failures: [] });
    } catch (error) {
      log.warn('PACS search failed', { side, error: describeError(error) });
      update(side, { message: errorText(t, error) });
      setStatus({ text: (t) => t('status.failed', { message: errorText(t, error) }), percent: 0, failures: [] });
    }
  };

  const listSsh = async (side: Side, folder: string) => {
    const connection = panelsRef.current[side].connection;
    if (connection?.kind !== 'ssh') return;
    try {
      const listing = await controller.ssh.list(connection.ssh, folder);
      update(side, { sshFolder: listing.path, remoteRows: listing.rows, selectedPaths: [], message: '' });
    } catch (error) {
      const failure = sshListingFailure(error, describeSshError(t, error));
      if (failure.disconnect) {
        log.warn('SSH panel disconnected: the host key is not trusted', { side, error: describeError(error) });
        controller.ssh.disconnect(connection.ssh);
      }
      update(side, failure.changes);
      if (failure.reconnect) await connectSsh(side, undefined, false);
    }
  };

  /**
   * Connects an SSH panel, or lists its folder when it is already connected to the same account.
   * `reuse` false always opens a new connection, for a panel whose connection just ended before React re-rendered it.
   */
  const connectSsh = async (side: Side, acceptFingerprint?: string, reuse = true) => {
    const state = panelsRef.current[side];
    const current = state.connection?.kind === 'ssh' ? state.connection.ssh : undefined;
    if (current && reuse && acceptFingerprint === undefined && current.endpoint.host === state.host.trim() && String(current.endpoint.port) === state.sshPort.trim() && current.endpoint.login === state.login.trim()) {
      return listSsh(side, state.sshFolder);
    }
    if (current) controller.ssh.disconnect(current);
    update(side, { connection: undefined, connecting: true, remoteRows: [], selectedPaths: [], message: t('ssh.connecting', { host: state.host }) });
    try {
      const input = { name: state.name, host: state.host, port: state.sshPort, login: state.login, password: state.password, folder: state.sshFolder };
      const outcome = await controller.ssh.connect(input, acceptFingerprint);
      if (outcome.status === 'host-key-unknown') {
        update(side, { connecting: false, message: '' });
        setDialog({ type: 'hostKey', side, prompt: outcome.prompt });
        return;
      }
      const { connection, listing } = outcome;
      update(side, { connection: { kind: 'ssh', ssh: connection, label: connection.label }, connecting: false, message: '', sshFolder: listing.path, remoteRows: listing.rows });
    } catch (error) {
      log.warn('SSH panel connection failed', { side, error: describeError(error) });
      update(side, { connecting: false, message: describeSshError(t, error) });
    }
  };

  const connect = async (side: Side) => {
    const state = panelsRef.current[side];
    if (state.kind === 'ssh') return connectSsh(side);
    // The services' own checks name command-line options such as --aec, so the fields are checked here first.
    const problem = state.kind === 'pacs' ? pacsFieldsProblem(t, state) : undefined;
    if (problem !== undefined) {
      update(side, { connection: undefined, message: problem });
      return;
    }
    update(side, { connecting: true, message: '' });
    try {
      const connection = state.kind === 'pacs' ? await controller.connectPacs(state) : await connectLocalOrMedia(state.path.trim());
      update(side, { connection, connecting: false, rows: [], selectedUids: [] });
      if (connection.kind === 'pacs') await search(side);
    } catch (error) {
      // A LocalFolderError's message is in the interface language, and log lines stay in English.
      const logged = error instanceof LocalFolderError ? { folder: error.folder, problem: error.problem } : { error: describeError(error) };
      log.warn('panel connection failed', { side, ...logged });
      update(side, { connection: undefined, connecting: false, message: errorText(t, error) });
    }
  };

  /** Connects a Local panel: a disc or USB folder is read into an index in memory (with progress), any other folder opens as an archive. */
  const connectLocalOrMedia = async (folder: string): Promise<PanelConnection> => {
    if (!controller.isMediaFolder(folder)) return controller.connectLocal(folder);
    const { connection, summary } = await controller.connectMedia(folder, (scanned, indexed) => setStatus({ text: (t) => t('media.reading', { scanned, indexed }), percent: 0, failures: [] }));
    if (summary) setStatus({ text: (t) => mediaReadText(t, summary), percent: 100, failures: [] });
    return connection;
  };

  /** Copies the DICOM files of the folder in a Local panel's folder field into the window's archive, and lists the panels that show it again. */
  const runImport = async (side: Side) => {
    setDialog({ type: 'none' });
    const folder = panelsRef.current[side].path.trim();
    if (transferRef.current || deletingRef.current) {
      setStatus({ text: (t) => t('delete.busy'), percent: 0, failures: [] });
      return;
    }
    setStatus({ text: (t) => t('import.progress', { scanned: 0, copied: 0 }), percent: 0, failures: [] });
    try {
      const result = await controller.importIntoArchive(folder, (scanned, copied) => setStatus({ text: (t) => t('import.progress', { scanned, copied }), percent: 0, failures: [] }));
      setStatus({ text: (t) => importDoneText(t, result.summary), percent: 100, failures: result.problems });
    } catch (error) {
      log.warn('import into the archive failed', { side, error: describeError(error) });
      setStatus({ text: (t) => t('status.failed', { message: errorText(t, error) }), percent: 0, failures: [] });
    }
    for (const shown of sidesShowingArchive(panelsRef.current, controller.options.archiveRoot)) refreshLocal(shown);
  };

  const fill = (side: Side, location: LocationEntry) => {
    if (location.kind === 'pacs' && location.node) {
      const node = location.node;
      // The password field is cleared too, so a password typed for another location is never sent to this node.
      update(side, { ...panelKindChange(panelsRef.current[side], 'pacs'), kind: 'pacs', host: node.host, port: String(node.port), aeTitle: node.aeTitle, login: node.login ?? '', password: '', connection: undefined, rows: [] });
    } else if (location.kind === 'ssh' && location.sshNode) {
      const node = location.sshNode;
      const ssh = { name: node.name, host: node.host, sshPort: String(node.port), login: node.login, password: '', sshFolder: node.defaultFolder ?? '' };
      update(side, { ...panelKindChange(panelsRef.current[side], 'ssh'), kind: 'ssh', ...ssh, connection: undefined, remoteRows: [], selectedPaths: [] });
    } else {
      update(side, { ...panelKindChange(panelsRef.current[side], 'local'), kind: 'local', path: location.description, connection: undefined, rows: [] });
    }
    setDialog({ type: 'none' });
  };

  const scan = async (side: Side) => {
    setDialog({ type: 'none' });
    const state = panelsRef.current[side];
    if (state.connection?.kind !== 'local') return;
    const folder = state.connection.root;
    if (state.connection.archive.readOnlyReason !== undefined) {
      setStatus({ text: (t) => t('local.readOnlyTarget', { folder }), percent: 0, failures: [] });
      return;
    }
    try {
      const report = await controller.scanLocal(state.connection.archive, state.connection.root, (scanned, indexed) => setStatus((current) => ({ ...current, text: (t) => t('scan.progress', { scanned, indexed }) })));
      setStatus({ text: (t) => scanDoneText(t, report), percent: 100, failures: [] });
      refreshLocal(side);
    } catch (error) {
      setStatus({ text: (t) => t('status.failed', { message: describeError(error) }), percent: 0, failures: [] });
    }
  };

  /** Checks the selected studies of a Local panel and opens the confirmation dialog with what `loader delete` would delete. */
  const requestDelete = async (side: Side) => {
    const state = panelsRef.current[side];
    if (state.kind !== 'local' || state.connection?.kind !== 'local') return;
    const { archive, root } = state.connection;
    if (state.selectedUids.length === 0) {
      setStatus({ text: (t) => t('delete.needSelection'), percent: 0, failures: [] });
      return;
    }
    if (!controller.canDelete(archive)) {
      setStatus({ text: (t) => t('delete.readOnly', { folder: root }), percent: 0, failures: [] });
      return;
    }
    if (transferRef.current || deletingRef.current) {
      setStatus({ text: (t) => t('delete.busy'), percent: 0, failures: [] });
      return;
    }
    let plan: DeletionPlan;
    try {
      plan = await controller.planDeletion(archive, state.selectedUids);
    } catch (error) {
      log.warn('deletion preview failed', { side, error: describeError(error) });
      setStatus({ text: (t) => t('status.failed', { message: describeError(error) }), percent: 0, failures: [] });
      return;
    }
    if (plan.studies.length === 0) {
      // Another process, such as `loader delete`, deleted them after the last listing.
      setStatus({ text: (t) => t('delete.notListed'), percent: 0, failures: [] });
      listAfterDeletion(root);
      return;
    }
    setDialog({ type: 'delete', side, plan });
  };

  /** Deletes the confirmed studies, lists every panel on the same archive again and shows the outcome in the status bar. */
  const runDelete = async (side: Side, plan: DeletionPlan) => {
    setDialog({ type: 'none' });
    const connection = panelsRef.current[side].connection;
    if (connection?.kind !== 'local') return;
    // The dialog does not block the window, so a transfer may have started while it was open.
    if (deletingRef.current || transferRef.current) {
      setStatus({ text: (t) => t('delete.busy'), percent: 0, failures: [] });
      return;
    }
    deletingRef.current = true;
    const count = plan.studies.length;
    setStatus({ text: (t) => t('delete.running', { count }), percent: 0, failures: [] });
    try {
      const report = await controller.deleteStudies(connection.archive, plan);
      setStatus({ text: (t) => deletionResultText(t, report), percent: 100, failures: deletionFailures(report) });
    } catch (error) {
      log.error('deletion failed', { side, root: connection.root, error: describeError(error) });
      setStatus({ text: (t) => t('status.failed', { message: describeError(error) }), percent: 0, failures: [] });
    } finally {
      deletingRef.current = false;
      listAfterDeletion(connection.root);
    }
  };

  /**
   * Lists each Local panel on the archive at `root` again, and keeps the selected studies that are still listed.
   * The connection is renewed, because the controller closes a read-only archive after a deletion.
   */
  const listAfterDeletion = (root: string) => {
    for (const side of sidesShowingArchive(panelsRef.current, root)) {
      const state = panelsRef.current[side];
      if (state.connection?.kind !== 'local') continue;
      try {
        const connection = controller.connectLocal(state.connection.root);
        if (connection.kind !== 'local') continue;
        const rows = controller.searchLocal(connection.archive, state.filterText);
        update(side, { connection, rows, selectedUids: keptSelection(state.selectedUids, rows) });
      } catch (error) {
        update(side, { message: describeError(error) });
      }
    }
  };

  /** Delete: deletes from the Local panel whose study table has the keyboard focus, and does nothing elsewhere. */
  const deleteFromFocusedTable = () => {
    const sides: Side[] = ['left', 'right'];
    const side = sides.find((candidate) => panelsRef.current[candidate].kind === 'local' && widgets.current[candidate].table?.hasFocus() === true);
    if (side) void requestDelete(side);
  };

  const requestTransfer = (from: Side) => {
    const source = panelsRef.current[from];
    const target = panelsRef.current[other(from)];
    if (!source.connection || !target.connection) {
      setStatus({ text: (t) => t('transfer.needConnection'), percent: 0, failures: [] });
    } else if (deletingRef.current) {
      setStatus({ text: (t) => t('delete.busy'), percent: 0, failures: [] });
    } else if (target.connection.kind === 'local' && target.connection.archive.readOnlyReason !== undefined) {
      // Every store into it would fail, and the node would report its C-MOVE or C-GET sub-operations as failed.
      const folder = target.connection.root;
      setStatus({ text: (t) => t('local.readOnlyTarget', { folder }), percent: 0, failures: [] });
    } else if (source.connection.kind === 'ssh' || target.connection.kind === 'ssh') {
      if (source.connection.kind !== 'ssh' || target.connection.kind !== 'local') setStatus({ text: (t) => t('transfer.sshToLocalOnly'), percent: 0, failures: [] });
      else if (source.selectedPaths.length === 0) setStatus({ text: (t) => t('ssh.needSelection'), percent: 0, failures: [] });
      else setDialog({ type: 'sshSend', from });
    } else if (source.connection.kind === 'local' && target.connection.kind === 'local') {
      // A disc or another folder is copied into the archive of the other Local panel.
      if (source.connection.archive === target.connection.archive) setStatus({ text: (t) => t('transfer.sameFolder'), percent: 0, failures: [] });
      else if (source.selectedUids.length === 0) setStatus({ text: (t) => t('transfer.needSelection'), percent: 0, failures: [] });
      else setDialog({ type: 'send', from });
    } else if (source.connection.kind === target.connection.kind) {
      setStatus({ text: (t) => t('transfer.samePanelType'), percent: 0, failures: [] });
    } else if (source.selectedUids.length === 0) {
      setStatus({ text: (t) => t('transfer.needSelection'), percent: 0, failures: [] });
    } else {
      setDialog({ type: 'send', from });
    }
  };

  const runTransfer = async (from: Side, method: 'get' | 'move') => {
    setDialog({ type: 'none' });
    const source = panelsRef.current[from];
    const targetSide = other(from);
    const target = panelsRef.current[targetSide];
    let finish = () => undefined as void;
    const transfer: RunningTransfer = {
      from,
      source: source.connection?.label ?? '',
      target: target.connection?.label ?? '',
      items: source.kind === 'ssh' ? source.selectedPaths : source.selectedUids,
      abort: new AbortController(),
      finished: new Promise<void>((resolve) => (finish = resolve)),
    };
    transferRef.current = transfer;
    const signal = transfer.abort.signal;
    const direction: TransferDirection = source.connection?.kind === 'local' && target.connection?.kind !== 'local' ? 'send' : 'retrieve';
    const format = (shown: Translate, progress: TransferProgress) => progressText(shown, direction, progress);
    const onProgress = (progress: TransferProgress) => setStatus({ ...localizedProgress(t, format, progress), failures: [] });
    onProgress({ studiesDone: 0, studiesTotal: source.selectedUids.length, instancesDone: 0 });
    try {
      let result;
      if (source.connection?.kind === 'pacs' && target.connection?.kind === 'local') {
        result = await controller.retrieveToLocal(source.connection.node, target.connection.archive, source.selectedUids, method, onProgress, signal);
        refreshLocal(targetSide);
      } else if (source.connection?.kind === 'local' && target.connection?.kind === 'local') {
        result = await controller.copyStudies(source.connection.archive, target.connection.archive, source.selectedUids, onProgress);
        refreshLocal(targetSide);
      } else if (source.connection?.kind === 'local' && target.connection?.kind === 'pacs') {
        result = await controller.sendToPacs(source.connection.archive, target.connection.node, source.selectedUids, onProgress, signal);
      } else if (source.connection?.kind === 'ssh' && target.connection?.kind === 'local') {
        const onSshProgress = (progress: SshFetchProgress) => setStatus({ ...localizedProgress(t, sshProgressText, progress), failures: [] });
        const { ssh } = source.connection;
        const { archive } = target.connection;
        result = await controller.whileUsing([archive], () => controller.ssh.fetchIntoArchive(ssh, source.selectedPaths, archive, onSshProgress));
        refreshLocal(targetSide);
      } else {
        return;
      }
      const text = (shown: Translate) => transferResultText(shown, direction, result);
      if (result.outcome === 'success') {
        setStatus({ text, percent: 100, failures: result.failures });
      } else {
        // The bar keeps the share of instances that arrived or were stored, which the last progress event set.
        setStatus((current) => ({ text, percent: current.percent, failures: result.failures }));
      }
    } catch (error) {
      log.error('transfer failed', { from, error: describeError(error) });
      setStatus({ text: (t) => t('status.failed', { message: errorText(t, error) }), percent: 0, failures: [] });
    } finally {
      if (transferRef.current === transfer) transferRef.current = undefined;
      finish();
    }
  };

  /** Cancels the running transfer, logs what it was moving, and quits once it stopped or CLOSE_ABORT_WAIT_MS passed. */
  const abortTransferAndQuit = () => {
    setDialog({ type: 'none' });
    const transfer = transferRef.current;
    if (!transfer) {
      quit();
      return;
    }
    log.warn('transfer cancelled because the window was closed', { from: transfer.from, source: transfer.source, target: transfer.target, items: transfer.items.join(' ') });
    transfer.abort.abort();
    windowRef.current?.hide();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_ABORT_WAIT_MS)));
    void Promise.race([transfer.finished, timeout]).then(() => {
      clearTimeout(timer);
      if (transferRef.current === transfer) log.warn('cancelled transfer still running; closing the archives anyway', { source: transfer.source, waitedMs: CLOSE_ABORT_WAIT_MS });
      quit();
    });
  };

  const toggleServer = async (on: boolean) => {
    setServerBusy(true);
    setServerMessage(on ? { text: (t) => t('server.starting') } : undefined);
    try {
      setServer(on ? await controller.startServer() : await controller.stopServer());
      setServerMessage(undefined);
    } catch (error) {
      log.error('PACS server switch failed', { on, error: describeError(error) });
      setServer(controller.serverState());
      setServerMessage({ text: (t) => t('server.failed', { message: errorText(t, error) }) });
    } finally {
      setServerBusy(false);
    }
  };

  /**
   * Restarts the running server after its settings were saved, so it listens with the new AE title and port.
   * A running transfer may retrieve by C-MOVE into this server, so the restart waits until it has finished.
   */
  const restartServer = async () => {
    setServerBusy(true);
    setServerMessage({ text: (t) => t('server.restarting') });
    try {
      await transferRef.current?.finished;
      setServer(await controller.applyServerSettings());
      setServerMessage(undefined);
    } catch (error) {
      log.error('PACS server restart with the saved settings failed', { error: describeError(error) });
      setServer(controller.serverState());
      setServerMessage({ text: (t) => t('server.failed', { message: errorText(t, error) }) });
    } finally {
      setServerBusy(false);
    }
  };

  const showWindow = () => {
    const window = windowRef.current;
    if (!window) return;
    window.show();
    activate(window);
  };

  /** Stops the server, closes the archives and ends the window: the tray menu's Quit, or a close without the tray icon. */
  const quit = () => {
    trayRef.current?.hide();
    trayRef.current = undefined;
    windowRef.current?.hide();
    void controller.close().finally(props.onClosed);
  };

  /** Opens the selected study in the study viewer from the focused or last used panel; see sideToOpen and openStudyFrom. */
  const openSelectedStudy = () => {
    const sides: Side[] = ['left', 'right'];
    const focusedSide = sides.find((candidate) => widgets.current[candidate].table?.hasFocus() === true);
    const side = sideToOpen(panelsRef.current, focusedSide, lastUsedSide.current);
    if (!side) {
      setStatus({ text: (t) => t('viewer.needSelection'), percent: 0, failures: [] });
      return;
    }
    void openStudyFrom(side);
  };

  /**
   * Opens a study of a panel in the study viewer window: the one `chosen`
   * names, or else the panel's first selected study or its selected SSH files.
   * A PACS study is retrieved and SSH files are downloaded into the viewer's
   * cache archive first; a failure is shown in the status bar.
   */
  const openStudyFrom = async (side: Side, chosen: PanelSelection = {}) => {
    const panel = panelsRef.current[side];
    if (!panel.connection) return;
    let opened;
    try {
      const selection = { studyInstanceUid: chosen.studyInstanceUid ?? panel.selectedUids[0], remotePaths: chosen.remotePaths ?? panel.selectedPaths };
      opened = await controller.studyOpener.open(panel.connection, selection, (event) => setStatus({ ...localizedProgress(t, openProgressText, event), failures: [] }));
    } catch (error) {
      log.warn('study for the viewer not retrieved', { side, error: describeError(error) });
      setStatus({ text: (t) => t('viewer.retrieveFailed', { message: errorText(t, error) }), percent: 0, failures: error instanceof StudyRetrieveError ? error.failures : [] });
      return;
    }
    if (!opened) return;
    const { archiveRoot, studyInstanceUid, failures } = opened.study;
    if (panel.connection.kind !== 'local') {
      const { studiesFound } = opened;
      setStatus({ text: (t) => (studiesFound > 1 ? t('viewer.moreStudies', { count: studiesFound }) : t('status.ready')), percent: 100, failures });
    }
    // A lazy require: the viewer module must load after Qt runs (see src/ui/viewer/index.ts).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const viewer = require('../viewer') as typeof import('../viewer');
    viewer
      .openStudyViewer({ archiveRoot, legacyCharacterSet: controller.legacyCharacterSetInUse().characterSet, studyInstanceUid, language: ui.language, theme: ui.theme })
      // Without a window manager nothing hands the keyboard focus back after the viewer closes.
      .then((handle) => handle.closed)
      .then(() => setTimeout(() => windowRef.current && activate(windowRef.current), REACTIVATE_DELAY_MS))
      .catch((error: unknown) => {
        log.warn('study viewer failed to open', { studyInstanceUid, error: describeError(error) });
        setStatus({ text: (t) => t('viewer.openFailed', { message: describeError(error) }), percent: 0, failures: [] });
      });
  };

  // Shortcuts and the tray menu call the latest closures through this ref, because they are created once.
  const actions = useRef({ requestTransfer, openSelectedStudy, deleteFromFocusedTable, toggleServer, showWindow, quit, focusFilter: () => undefined as void });
  actions.current = {
    requestTransfer,
    deleteFromFocusedTable,
    openSelectedStudy,
    toggleServer,
    showWindow,
    quit,
    focusFilter: () => {
      const side: Side = panelsRef.current.right.kind === 'local' ? 'right' : 'left';
      widgets.current[side].filter?.setFocus();
    },
  };
  const shortcuts = useRef<QShortcut[]>([]);
  useEffect(() => {
    const window = windowRef.current;
    if (!window) return;
    const bind = (key: string, action: () => void) => {
      const shortcut = new QShortcut(window);
      shortcut.setKey(new QKeySequence(key));
      shortcut.addEventListener('activated', action);
      shortcuts.current.push(shortcut);
    };
    bind(SHORTCUTS.sendRight, () => actions.current.requestTransfer('left'));
    bind(SHORTCUTS.sendLeft, () => actions.current.requestTransfer('right'));
    bind(SHORTCUTS.focusFilter, () => actions.current.focusFilter());
    bind(SHORTCUTS.openStudy, () => actions.current.openSelectedStudy());
    bind(SHORTCUTS.deleteStudies, () => actions.current.deleteFromFocusedTable());
    bind(SHORTCUTS.closeWindow, () => windowRef.current?.close());
    trackWindow('main-window')(window);
    log.info('main window shown', { processUptimeMs: Math.round(process.uptime() * 1000) });
    return () => trackWindow('main-window')(null);
  }, []);

  // `loader start` opens the window with the loader's own archive and PACS server, so the right-hand Local panel
  // opens the archive at once, and the server starts unless pacs.startWithWindow is off. A server that cannot
  // start, or that the setting keeps off, shows why in the status bar.
  useEffect(() => {
    void connect('right');
    if (controller.startsServerWithWindow()) {
      log.info('starting the PACS server and opening the archive with the window', { archive: controller.options.archiveRoot });
      void toggleServer(true);
    } else {
      log.info('opening the archive with the window; the PACS server stays off because pacs.startWithWindow is off', { archive: controller.options.archiveRoot });
      setServerMessage({ text: (t) => t('server.offAtStart') });
    }
  }, []);

  // A closed dialog leaves no window with the keyboard focus when no window manager hands it back.
  // The delay lets Qt destroy the dialog first, because its destruction moves the X focus to the root window.
  useEffect(() => {
    if (dialog.type !== 'none') return;
    const timer = setTimeout(() => windowRef.current && activate(windowRef.current), REACTIVATE_DELAY_MS);
    return () => clearTimeout(timer);
  }, [dialog.type]);

  // The tray icon is created when interface.trayIcon is on and a tray host runs. Both are checked when the window
  // opens and when the setting changes, so a tray host that starts later gets no icon.
  useEffect(() => {
    if (!ui.trayIcon) return;
    let cancelled = false;
    void x11SystemTrayAvailable().then((available) => {
      if (cancelled) return;
      if (!available) {
        log.info('tray icon not shown: no system tray host on the display', { display: process.env.DISPLAY ?? '' });
        return;
      }
      const tray = new TrayIcon({
        setServer: (on) => void actions.current.toggleServer(on),
        showWindow: () => actions.current.showWindow(),
        quit: () => actions.current.quit(),
      });
      trayRef.current = tray;
      setTrayShown(true);
      tray.show();
    });
    return () => {
      cancelled = true;
      trayRef.current?.hide();
      trayRef.current = undefined;
      setTrayShown(false);
    };
  }, [ui.trayIcon]);

  useEffect(() => {
    const toolTip = `${t('app.title')}: ${serverMessage === undefined ? serverText : serverMessage.text(t)}`;
    trayRef.current?.update({ t, serverRunning: server.running, serverBusy, toolTip });
  });

  // `loader nodes add` or `loader config set` may have changed the settings file since the window last read it.
  const openSettings = () => {
    try {
      controller.settings.reload();
    } catch (error) {
      log.warn('settings file not read again; the settings window shows the values read before', { error: describeError(error) });
    }
    setDialog({ type: 'settings' });
  };

  const changeInterface = (changes: Partial<InterfaceSettings>) => {
    try {
      setUi(controller.updateInterface(changes));
    } catch (error) {
      log.warn('interface setting rejected', { error: describeError(error) });
    }
  };

  const panelProps = (side: Side) => ({
    side,
    state: panels[side],
    t,
    language: ui.language,
    update: (changes: Partial<PanelState>) => {
      lastUsedSide.current = side;
      update(side, changes);
    },
    onConnect: () => void connect(side),
    onSearch: () => void search(side),
    onFill: () => setDialog({ type: 'fill', side }),
    onScan: () => setDialog({ type: 'scan', side }),
    onImport: () => setDialog({ type: 'import', side }),
    onDelete: () => void requestDelete(side),
    // A folder is entered, a file opens in the viewer and the ".." row goes up.
    onActivateEntry: (row: RemoteRow | undefined) => {
      if (row === undefined) void listSsh(side, parentFolder(panelsRef.current[side].sshFolder));
      else if (row.type === 'folder') void listSsh(side, row.path);
      else void openStudyFrom(side, { remotePaths: [row.path] });
    },
    onUp: () => void listSsh(side, parentFolder(panelsRef.current[side].sshFolder)),
    onOpenStudy: (studyInstanceUid: string) => void openStudyFrom(side, { studyInstanceUid }),
    widgetRefs: (refs: { filter?: QLineEdit | null; table?: QTableWidget | null }) => {
      widgets.current[side] = refs;
    },
  });

  const statusText = status.text(t);
  const serverText = server.running ? t('server.on', { host: server.host ?? '', port: server.port ?? '', aeTitle: server.aeTitle ?? '' }) : t('server.off');
  const main = h(
    Window,
    {
      key: 'main',
      id: 'main-window',
      ref: windowRef,
      windowTitle: t('app.title'),
      minSize: MAIN_WINDOW_MIN_SIZE,
      visible: true,
      on: {
        // Qt hides the window on Close. With the tray icon shown, the server and archives stay open.
        [WidgetEventTypes.Close]: (nativeEvent?: NativeRawPointer<'QEvent'>) => {
          if (trayRef.current) {
            log.info('main window hidden to the tray; the server keeps its state', { serverRunning: controller.serverState().running });
            return;
          }
          // A close during a transfer waits for the user's answer; ignoring the event keeps the window open.
          if (transferRef.current && nativeEvent) {
            ignoreEvent(nativeEvent);
            setDialog({ type: 'closeDuringTransfer' });
            return;
          }
          quit();
        },
      },
    },
    h(
      View,
      { style: 'flex-direction: column; flex: 1; padding: 6px;' },
      h(
        View,
        { style: 'flex-direction: row; flex: 1;' },
        h(Panel, { key: 'left', ...panelProps('left') }),
        h(
          View,
          { style: 'flex-direction: column; padding: 4px;' },
          h(Button, { id: 'transfer-right', text: t('transfer.toRight'), on: { clicked: () => requestTransfer('left') } }),
          h(Button, { id: 'transfer-left', text: t('transfer.toLeft'), on: { clicked: () => requestTransfer('right') } }),
        ),
        h(Panel, { key: 'right', ...panelProps('right') }),
      ),
      h(
        View,
        { id: 'status-bar', style: 'flex-direction: row; padding-top: 4px;' },
        h(CheckBox, { id: 'server-switch', text: t('server.switch'), checked: server.running, enabled: !serverBusy, on: { clicked: (checked: boolean) => void toggleServer(checked) } }),
        // Both texts share the free width and are elided to it, so a long error never pushes the bar's controls out.
        h(ElidedText, { id: 'server-state', text: serverMessage === undefined ? serverText : serverMessage.text(t), grow: 0, minWidth: STATUS_TEXT_MIN_WIDTH }),
        h(ElidedText, { id: 'status-text', text: statusText, grow: 1, minWidth: STATUS_TEXT_MIN_WIDTH }),
        h(ProgressBar, { id: 'status-progress', minimum: 0, maximum: 100, value: status.percent, style: 'width: 160px;' }),
        h(Button, { id: 'open-settings', text: t('menu.settings'), on: { clicked: openSettings } }),
      ),
      h(NoticeBars<AssociationRejection>, {
        id: 'server-notice',
        t,
        notices: rejectedCallers,
        describe: (notice) => describeRejectedCaller(t, notice, server.aeTitle ?? ''),
        onDismiss: (key) => setRejectedCallers((shown) => withoutNotice(shown, key)),
        onDismissAll: () => setRejectedCallers([]),
      }),
      h(NoticeBars<ReceivedInstance>, {
        id: 'kept-aside-notice',
        t,
        notices: keptAside,
        describe: (notice) => describeKeptAside(t, notice),
        onDismiss: (key) => setKeptAside((shown) => withoutNotice(shown, key)),
        onDismissAll: () => setKeptAside([]),
      }),
      status.failures.length === 0
        ? h(View, {})
        : h(Text, { id: 'status-failures', wordWrap: true }, `${t('failures.title')}:\n` + status.failures.slice(0, 10).map((failure) => `${failure.uid}: ${failure.reason}`).join('\n')),
    ),
  );

  return h(React.Fragment, {}, main, renderDialog());

  function renderDialog(): React.ReactElement | null {
    switch (dialog.type) {
      case 'none':
        return null;
      case 'send': {
        const source = panels[dialog.from];
        const target = panels[other(dialog.from)];
        return h(SendDialog, {
          key: 'send',
          t,
          styleSheet,
          count: source.selectedUids.length,
          source: source.connection?.label ?? '',
          target: target.connection?.label ?? '',
          patients: selectedPatientsText(t, source.rows, source.selectedUids),
          chooseMethod: source.connection?.kind === 'pacs',
          onSend: (method) => void runTransfer(dialog.from, method),
          onExit: () => setDialog({ type: 'none' }),
        });
      }
      case 'fill':
        return h(FillDialog, { key: 'fill', t, styleSheet, locations: controller.listLocations(), onChoose: (location) => fill(dialog.side, location), onCancel: () => setDialog({ type: 'none' }) });
      case 'scan': {
        const state = panels[dialog.side];
        const root = state.connection?.kind === 'local' ? state.connection.root : state.path;
        return h(ConfirmDialog, { key: 'scan', id: 'scan-dialog', title: t('scan.title'), text: t('scan.confirm', { path: root }), t, styleSheet, onConfirm: () => void scan(dialog.side), onCancel: () => setDialog({ type: 'none' }) });
      }
      case 'import': {
        const folder = panels[dialog.side].path.trim();
        const text = t('import.confirm', { folder, archive: controller.options.archiveRoot });
        return h(ConfirmDialog, { key: 'import', id: 'import-dialog', title: t('import.title'), text, t, styleSheet, onConfirm: () => void runImport(dialog.side), onCancel: () => setDialog({ type: 'none' }) });
      }
      case 'delete': {
        const { side, plan } = dialog;
        const archive = panels[side].connection?.label ?? '';
        return h(ConfirmDialog, {
          key: 'delete',
          id: 'delete-dialog',
          title: t('delete.title'),
          text: deletionConfirmText(t, plan, archive),
          t,
          styleSheet,
          // A deletion cannot be undone, so Return cancels it.
          focusCancel: true,
          onConfirm: () => void runDelete(side, plan),
          onCancel: () => setDialog({ type: 'none' }),
        });
      }
      case 'hostKey': {
        const { side, prompt } = dialog;
        return h(ConfirmDialog, {
          key: 'host-key',
          id: 'host-key-dialog',
          title: t('ssh.hostKey.title'),
          text: t('ssh.hostKey.text', { ...prompt }),
          t,
          styleSheet,
          onConfirm: () => {
            setDialog({ type: 'none' });
            void connectSsh(side, prompt.fingerprint);
          },
          onCancel: () => {
            setDialog({ type: 'none' });
            update(side, { message: t('ssh.hostKey.declined') });
          },
        });
      }
      case 'sshSend': {
        const source = panels[dialog.from];
        const target = panels[other(dialog.from)];
        const text = t('ssh.transfer.confirm', { count: source.selectedPaths.length, source: source.connection?.label ?? '', target: target.connection?.label ?? '' });
        return h(ConfirmDialog, { key: 'ssh-send', id: 'ssh-send-dialog', title: t('ssh.transfer.title'), text, t, styleSheet, onConfirm: () => void runTransfer(dialog.from, 'get'), onCancel: () => setDialog({ type: 'none' }) });
      }
      case 'closeDuringTransfer':
        return h(ConfirmDialog, {
          key: 'close-transfer',
          id: 'close-transfer-dialog',
          title: t('close.title'),
          text: t('close.confirm'),
          t,
          styleSheet,
          onConfirm: abortTransferAndQuit,
          onCancel: () => setDialog({ type: 'none' }),
        });
      case 'settings':
        return h(SettingsWindow, {
          key: `settings-${settingsVersion}`,
          t,
          styleSheet,
          pacs: controller.settings.settings.pacs,
          interfaceSettings: ui,
          nodes: controller.settings.listPacsNodes(),
          legacyCharacterSetInUse: controller.legacyCharacterSetInUse(),
          onSavePacs: (changes) => {
            try {
              const restart = controller.serverSettingsChange(changes);
              controller.updatePacs(changes);
              if (restart) void restartServer();
              return undefined;
            } catch (error) {
              return settingsErrorText(t, error);
            }
          },
          onInterfaceChange: changeInterface,
          onAddNode: (node) => {
            try {
              controller.settings.addPacsNode(node);
              setRejectedCallers((shown) => withoutRegisteredCaller(shown, node.aeTitle));
              setSettingsVersion((version) => version + 1);
              return undefined;
            } catch (error) {
              return settingsErrorText(t, error);
            }
          },
          onRemoveNode: (name) => {
            controller.settings.removePacsNode(name);
            setSettingsVersion((version) => version + 1);
          },
          onClose: () => setDialog({ type: 'none' }),
        });
      case 'license':
        return h(LicenseWindow, {
          key: 'license',
          t,
          styleSheet,
          problem: dialog.problem,
          onActivate: (file) => {
            const result = controller.activateLicense(file);
            return result.ok ? { active: true, message: t('license.active', { licensee: result.licensee, expires: result.expires }) } : { active: false, message: t('license.rejected', { message: result.message }) };
          },
          onCancel: () => setDialog({ type: 'none' }),
          onContinue: () => setDialog({ type: 'none' }),
        });
    }
  }
}
