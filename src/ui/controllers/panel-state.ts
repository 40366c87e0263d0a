/**
 * Changes of a panel's state that the window applies without a display, kept
 * apart from the Qt components so tests can check them directly.
 */
import type { PanelKind, PanelState } from '../components/panel';

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
