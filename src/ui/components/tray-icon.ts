/**
 * The system tray icon of the main window, with a menu: PACS On (a check
 * item that starts and stops the loader's server), Show window and Quit.
 * It is plain NodeGui, not a React element, because react-nodegui 0.14 has
 * no tray component. The window owns one instance and updates its texts and
 * the PACS check mark through update().
 */
import { QAction, QIcon, QMenu, QSystemTrayIcon, QSystemTrayIconActivationReason } from '@nodegui/nodegui';

import { createLogger } from '../../services/logger';
import type { Translate } from '../i18n';
import { assetPath } from '../qt-runtime';

const log = createLogger('loader.ui');

export const TRAY_ICON_FILE = 'tray-icon.png';

export interface TrayIconActions {
  setServer: (on: boolean) => void;
  showWindow: () => void;
  quit: () => void;
}

export interface TrayIconState {
  t: Translate;
  serverRunning: boolean;
  serverBusy: boolean;
  /** Tooltip text: the application title and the server state. */
  toolTip: string;
}

export class TrayIcon {
  private readonly tray: QSystemTrayIcon;
  private readonly menu: QMenu;
  private readonly pacsAction: QAction;
  private readonly showAction: QAction;
  private readonly quitAction: QAction;

  constructor(actions: TrayIconActions) {
    this.menu = new QMenu();
    this.menu.setObjectName('tray-menu');
    this.pacsAction = new QAction();
    this.pacsAction.setCheckable(true);
    this.pacsAction.addEventListener('triggered', (checked: boolean) => actions.setServer(checked));
    this.showAction = new QAction();
    this.showAction.addEventListener('triggered', () => actions.showWindow());
    this.quitAction = new QAction();
    this.quitAction.addEventListener('triggered', () => actions.quit());
    this.menu.addAction(this.pacsAction);
    this.menu.addSeparator();
    this.menu.addAction(this.showAction);
    this.menu.addAction(this.quitAction);

    this.tray = new QSystemTrayIcon();
    const iconFile = assetPath(TRAY_ICON_FILE);
    if (iconFile === undefined) log.warn('tray icon image not found: the package root is unknown', { file: TRAY_ICON_FILE });
    else this.tray.setIcon(new QIcon(iconFile));
    this.tray.setContextMenu(this.menu);
    // A left click (Trigger) shows the window, as in most tray applications; the menu opens with a right click.
    this.tray.addEventListener('activated', (reason: QSystemTrayIconActivationReason) => {
      if (reason === QSystemTrayIconActivationReason.Trigger || reason === QSystemTrayIconActivationReason.DoubleClick) actions.showWindow();
    });
  }

  update(state: TrayIconState): void {
    this.pacsAction.setText(state.t('tray.pacsOn'));
    this.pacsAction.setChecked(state.serverRunning);
    this.pacsAction.setEnabled(!state.serverBusy);
    this.showAction.setText(state.t('tray.show'));
    this.quitAction.setText(state.t('tray.quit'));
    this.tray.setToolTip(state.toolTip);
  }

  show(): void {
    this.tray.show();
    log.info('tray icon shown');
  }

  hide(): void {
    this.tray.hide();
  }
}
