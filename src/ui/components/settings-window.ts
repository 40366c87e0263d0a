/**
 * Settings window with three tabs (PACS, Interface, Locations) and the
 * license activation window shown at start when no valid license is active.
 */
import { FileMode, QFileDialog } from '@nodegui/nodegui';
import type { QMainWindow } from '@nodegui/nodegui';
import { Button, CheckBox, ComboBox, LineEdit, TabItem, Tabs, Text, View, Window } from '@nodegui/react-nodegui';
import React, { useCallback, useEffect, useRef, useState } from 'react';

import type { InterfaceSettings, PacsNode, PacsSettings } from '../../services/settings/settings-types';
import type { Translate } from '../i18n';
import { DIALOG_GEOMETRY, dialogWindowRef } from './dialogs';
import { relayoutWindow } from './relayout';

import { comboItems } from './combo-items';

const h = React.createElement;

export interface SettingsWindowProps {
  t: Translate;
  styleSheet: string;
  pacs: PacsSettings;
  interfaceSettings: InterfaceSettings;
  nodes: PacsNode[];
  /** Saves the PACS section; returns an error message for an invalid value. */
  onSavePacs: (changes: Partial<PacsSettings>) => string | undefined;
  /** Applies and saves a language, a theme or the tray icon switch at once. */
  onInterfaceChange: (changes: Partial<InterfaceSettings>) => void;
  onAddNode: (node: PacsNode) => string | undefined;
  onRemoveNode: (name: string) => void;
  onClose: () => void;
}

function row(label: string, field: React.ReactElement): React.ReactElement {
  return h(View, { style: 'flex-direction: row;' }, h(Text, { style: 'min-width: 180px;' }, label), field);
}

function PacsTab(props: SettingsWindowProps): React.ReactElement {
  const { t } = props;
  const [aeTitle, setAeTitle] = useState(props.pacs.aeTitle);
  const [host, setHost] = useState(props.pacs.host);
  const [port, setPort] = useState(String(props.pacs.port));
  const [acceptAny, setAcceptAny] = useState(props.pacs.acceptAnyCallingAeTitle);
  const [message, setMessage] = useState('');
  const save = () => {
    const error = props.onSavePacs({ aeTitle: aeTitle.trim(), host: host.trim(), port: Number(port), acceptAnyCallingAeTitle: acceptAny });
    setMessage(error === undefined ? t('settings.saved') : t('error.invalid', { message: error }));
  };
  return h(
    View,
    { style: 'flex-direction: column; padding: 8px;' },
    row(t('settings.aeTitle'), h(LineEdit, { id: 'settings-aet', text: aeTitle, on: { textChanged: setAeTitle } })),
    row(t('settings.host'), h(LineEdit, { id: 'settings-host', text: host, on: { textChanged: setHost } })),
    row(t('settings.port'), h(LineEdit, { id: 'settings-port', text: port, on: { textChanged: setPort } })),
    h(CheckBox, { id: 'settings-accept-any', text: t('settings.acceptAny'), checked: acceptAny, on: { toggled: setAcceptAny } }),
    h(View, { style: 'flex-direction: row;' }, h(Button, { id: 'settings-save', text: t('button.save'), on: { clicked: save } }), h(Text, {}, message)),
  );
}

const LANGUAGES: InterfaceSettings['language'][] = ['en', 'ru'];
const THEMES: InterfaceSettings['theme'][] = ['light', 'dark'];

function InterfaceTab(props: SettingsWindowProps): React.ReactElement {
  const { t, interfaceSettings } = props;
  return h(
    View,
    { style: 'flex-direction: column; padding: 8px;' },
    row(
      t('settings.language'),
      h(ComboBox, {
        id: 'settings-language',
        items: comboItems(['English', 'Русский']),
        currentIndex: LANGUAGES.indexOf(interfaceSettings.language),
        on: { activated: (index: number) => index >= 0 && LANGUAGES[index] !== interfaceSettings.language && props.onInterfaceChange({ language: LANGUAGES[index] }) },
      }),
    ),
    row(
      t('settings.theme'),
      h(ComboBox, {
        id: 'settings-theme',
        items: comboItems([t('settings.theme.light'), t('settings.theme.dark')]),
        currentIndex: THEMES.indexOf(interfaceSettings.theme),
        on: { activated: (index: number) => index >= 0 && THEMES[index] !== interfaceSettings.theme && props.onInterfaceChange({ theme: THEMES[index] }) },
      }),
    ),
    // `clicked` fires only on a user's toggle, not when a new `checked` value comes from the settings.
    h(CheckBox, {
      id: 'settings-tray-icon',
      text: t('settings.trayIcon'),
      checked: interfaceSettings.trayIcon,
      on: { clicked: (checked: boolean) => props.onInterfaceChange({ trayIcon: checked }) },
    }),
  );
}

function LocationsTab(props: SettingsWindowProps): React.ReactElement {
  const { t } = props;
  const [name, setName] = useState('');
  const [address, setAddress] = useState('');
  const [message, setMessage] = useState('');
  const add = () => {
    // The address is AE@host:port, as `loader nodes` prints it.
    const match = /^([^@]+)@([^:]+):(\d+)$/.exec(address.trim());
    if (!match) {
      setMessage(t('error.invalid', { message: `"${address}": use AE@host:port` }));
      return;
    }
    const error = props.onAddNode({ name: name.trim(), aeTitle: match[1], host: match[2], port: Number(match[3]), characterSet: 'ISO_IR 192' });
    setMessage(error === undefined ? t('settings.saved') : t('error.invalid', { message: error }));
    if (error === undefined) {
      setName('');
      setAddress('');
    }
  };
  return h(
    View,
    { style: 'flex-direction: column; padding: 8px;' },
    ...props.nodes.map((node) =>
      h(
        View,
        { key: node.name, style: 'flex-direction: row;' },
        h(Text, { style: 'flex: 1;' }, `${node.name} — ${node.aeTitle}@${node.host}:${node.port}`),
        h(Button, { text: t('settings.locations.remove'), on: { clicked: () => props.onRemoveNode(node.name) } }),
      ),
    ),
    h(
      View,
      { style: 'flex-direction: row;' },
      h(LineEdit, { id: 'location-name', text: name, placeholderText: t('settings.locations.name'), on: { textChanged: setName } }),
      h(LineEdit, { id: 'location-address', text: address, placeholderText: 'AE@host:port', style: 'flex: 1;', on: { textChanged: setAddress } }),
      h(Button, { id: 'location-add', text: t('settings.locations.add'), on: { clicked: add } }),
    ),
    h(Text, {}, message),
  );
}

export function SettingsWindow(props: SettingsWindowProps): React.ReactElement {
  const { t } = props;
  const windowRef = useRef<QMainWindow | null>(null);
  // A stable callback, because React calls a new ref callback on every render and the dialog ref activates the window.
  const ref = useCallback((window: QMainWindow | null) => {
    windowRef.current = window;
    dialogWindowRef('settings-window')(window);
  }, []);

  // The window stays open while its own language setting changes its texts.
  const shownLanguage = useRef(props.interfaceSettings.language);
  useEffect(() => {
    if (props.interfaceSettings.language === shownLanguage.current || !windowRef.current) return;
    shownLanguage.current = props.interfaceSettings.language;
    relayoutWindow(windowRef.current);
  }, [props.interfaceSettings.language]);

  return h(
    Window,
    { id: 'settings-window', ref, windowTitle: t('settings.title'), minSize: { width: 560, height: 340 }, styleSheet: props.styleSheet, visible: true, geometry: { x: 260, y: 120, width: 620, height: 380 } },
    h(
      View,
      { style: 'flex-direction: column; padding: 8px; flex: 1;' },
      h(
        Tabs,
        { style: 'flex: 1;' },
        h(TabItem, { title: t('settings.tab.pacs') }, h(PacsTab, props)),
        h(TabItem, { title: t('settings.tab.interface') }, h(InterfaceTab, props)),
        h(TabItem, { title: t('settings.tab.locations') }, h(LocationsTab, props)),
      ),
      h(View, { style: 'flex-direction: row;' }, h(Button, { id: 'settings-close', text: t('button.close'), on: { clicked: props.onClose } })),
    ),
  );
}

export interface LicenseWindowProps {
  t: Translate;
  styleSheet: string;
  /** Reason no license is active, from LicenseService.status(). */
  problem: string;
  /** Activates the file; returns the message to show and whether a license is now active. */
  onActivate: (file: string) => { active: boolean; message: string };
  onCancel: () => void;
  onContinue: () => void;
}

export function LicenseWindow(props: LicenseWindowProps): React.ReactElement {
  const { t } = props;
  const [message, setMessage] = useState('');
  const [active, setActive] = useState(false);
  const dialogRef = useRef<QFileDialog | null>(null);
  const choose = () => {
    const dialog = new QFileDialog();
    dialog.setFileMode(FileMode.ExistingFile);
    dialog.setWindowTitle(t('license.choose'));
    dialog.addEventListener('fileSelected', (file: string) => {
      const result = props.onActivate(file);
      setActive(result.active);
      setMessage(result.message);
    });
    dialogRef.current = dialog;
    dialog.open();
  };
  return h(
    Window,
    { id: 'license-window', ref: dialogWindowRef('license-window'), windowTitle: t('license.title'), minSize: { width: 480, height: 160 }, styleSheet: props.styleSheet, visible: true, geometry: DIALOG_GEOMETRY },
    h(
      View,
      { style: 'flex-direction: column; padding: 10px;' },
      h(Text, { wordWrap: true }, t('license.text', { message: props.problem })),
      h(Text, { id: 'license-message', wordWrap: true }, message),
      h(
        View,
        { style: 'flex-direction: row;' },
        h(View, { style: 'flex: 1;' }),
        h(Button, { id: 'license-choose', text: t('license.choose'), on: { clicked: choose } }),
        h(Button, { id: 'license-cancel', text: t('button.cancel'), on: { clicked: props.onCancel } }),
        h(Button, { id: 'license-continue', text: t('license.continue'), enabled: active, on: { clicked: props.onContinue } }),
      ),
    ),
  );
}
