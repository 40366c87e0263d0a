/**
 * Changes of a panel's state that the window applies without a display, kept
 * apart from the Qt components so tests can check them directly.
 */
import path from 'node:path';

import type { LocalArchive } from '../../services/archive';
import { HostKeyError } from '../../services/ssh';
import type { PanelKind, PanelState } from '../components/panel';
import type { StudyRow } from './app-controller';

/**
 * Returns the changes that switch a panel to another connection type. The
 * connection, its listing and the login, password and registered SSH
 * location name are cleared, because credentials typed for one service must
 * never reach another: a PACS panel sends its login and password in the DICOM
 * user identity. Host, ports, AE title and archive path stay, as they hold
 * no secret.
 */
export function panelKindChange(state: Pick<PanelState, 'kind'>, kind: PanelKind): Partial<PanelState> {
  if (kind === state.kind) return {};
  return {
    kind,
    connection: undefined,
    rows: [],
    selectedUids: [],
    remoteRows: [],
    selectedPaths: [],
    message: '',
    login: '',
    password: '',
    name: '',
  };
}

export type PanelSide = 'left' | 'right';

/** Returns the sides whose Local panel is connected to the archive at `root`, comparing absolute paths. */
export function sidesShowingArchive(panels: Record<PanelSide, Pick<PanelState, 'connection'>>, root: string): PanelSide[] {
  const sides: PanelSide[] = ['left', 'right'];
  return sides.filter((side) => {
    const connection = panels[side].connection;
    return connection?.kind === 'local' && path.resolve(connection.root) === path.resolve(root);
  });
}

/** Returns the archives that the Local panels show now. */
export function localArchivesShown(panels: Record<PanelSide, Pick<PanelState, 'connection'>>): LocalArchive[] {
  const archives: LocalArchive[] = [];
  for (const side of ['left', 'right'] as PanelSide[]) {
    const connection = panels[side].connection;
    if (connection?.kind === 'local') archives.push(connection.archive);
  }
  return archives;
}

/**
 * Returns the selected studies that `rows` still lists, for a panel listed
 * again after a deletion. Deleted studies leave the selection, and no other
 * study joins it, so a second Delete never reaches a study the user did not choose.
 */
export function keptSelection(selectedUids: readonly string[], rows: readonly Pick<StudyRow, 'studyInstanceUid'>[]): string[] {
  const listed = new Set(rows.map((row) => row.studyInstanceUid));
  return selectedUids.filter((uid) => listed.has(uid));
}

/** True when the panel is connected and has a study or, for SSH, a file selected. */
export function hasOpenableSelection(state: Pick<PanelState, 'kind' | 'connection' | 'selectedUids' | 'selectedPaths'>): boolean {
  const selection = state.kind === 'ssh' ? state.selectedPaths : state.selectedUids;
  return state.connection !== undefined && selection.length > 0;
}

/**
 * Chooses the panel whose selection Ctrl+Enter opens: the panel whose table
 * has the keyboard focus, else the panel the user changed last, else a Local
 * panel with a selection, else any panel with one. A preferred panel without
 * a selection is passed over.
 */
export function sideToOpen(
  panels: Record<PanelSide, Pick<PanelState, 'kind' | 'connection' | 'selectedUids' | 'selectedPaths'>>,
  focusedSide: PanelSide | undefined,
  lastUsedSide: PanelSide | undefined,
): PanelSide | undefined {
  for (const preferred of [focusedSide, lastUsedSide]) {
    if (preferred !== undefined && hasOpenableSelection(panels[preferred])) return preferred;
  }
  const sides: PanelSide[] = ['left', 'right'];
  return sides.find((side) => hasOpenableSelection(panels[side]) && panels[side].kind === 'local') ?? sides.find((side) => hasOpenableSelection(panels[side]));
}

/** Steps of the window after an SSH panel's listing failed. */
export interface SshListingFailure {
  changes: Partial<PanelState>;
  /** Close the panel's SSH connection. */
  disconnect: boolean;
  /** Connect again from the start, which shows the dialog to accept the host key. */
  reconnect: boolean;
}

/**
 * Decides how an SSH panel handles a failed listing, which may have
 * reconnected. A changed host key ends the connection and clears the list,
 * because the panel must not look connected to a host it rejected. An
 * unknown key, as after `loader ssh forget`, ends it too and connects again
 * so the accept dialog is shown. Other errors only show `message`.
 */
export function sshListingFailure(error: unknown, message: string): SshListingFailure {
  if (!(error instanceof HostKeyError)) return { changes: { message }, disconnect: false, reconnect: false };
  const cleared: Partial<PanelState> = { connection: undefined, remoteRows: [], selectedPaths: [] };
  if (error.code === 'host-key-unknown') return { changes: { ...cleared, message: '' }, disconnect: true, reconnect: true };
  return { changes: { ...cleared, message }, disconnect: true, reconnect: false };
}
