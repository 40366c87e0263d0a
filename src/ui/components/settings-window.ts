/**
 * Settings window with three tabs (PACS, Interface, Locations) and the
 * license activation window shown at start when no valid license is active.
 */
import { FileMode, QApplication, QFileDialog, ScrollBarPolicy, SizeAdjustPolicy, WidgetEventTypes } from '@nodegui/nodegui';
import type { QLineEdit, QMainWindow, QScrollArea, QTabWidget, QWidget } from '@nodegui/nodegui';
import { Button, CheckBox, LineEdit, ScrollArea, TabItem, Tabs, Text, View, Window } from '@nodegui/react-nodegui';
import React, { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';

import { MISSING_LICENSE_MESSAGE } from '../../services/license/license-service';
import type { LegacyCharacterSet } from '../../dicom/charset';
import type { InterfaceSettings, PacsNode, PacsSettings } from '../../services/settings/settings-types';
import type { Translate } from '../i18n';
import { activate, BUTTON_ROW_HEIGHT, ConfirmDialog, DIALOG_GEOMETRY, useDialogWindowRef } from './dialogs';
import { relayoutWindow } from './relayout';

import { ChoiceComboBox } from './choice-combo-box';
import { aeTitleProblem, legacyCharacterSetChoices, limitAeTitleLength, parseLocation, pacsSavedMessage, portProblem } from './settings-input';
import type { LegacyCharacterSetInUse } from './settings-input';
import { wrappedTextHeight, wrappedTextStyle } from './wrapped-text';

const h = React.createElement;

/** Width of the message labels in the tabs, in pixels: the tab's width at the window's minimum width. */
const MESSAGE_WIDTH = 500;

/** Width of the license window's texts, in pixels. */
const LICENSE_TEXT_WIDTH = 460;

/**
 * Tab shown when the settings window opens. The main window mounts a new
 * settings window after each change of the locations, so the tab the user
 * worked in is kept here; Close resets it to the first tab.
 */
let shownTab = 0;

/** True when a new settings window follows a change of the locations and should focus the name field. */
let focusLocationName = false;

/** Message that the Locations tab of the next settings window shows, about the change of the locations that mounted it. */
let nextLocationMessage = '';

/** Index of the Locations tab in the settings window's tabs. */
const LOCATIONS_TAB = 2;

/** Delay before the name field takes the focus, in milliseconds: after the dialog ref has activated the window. */
const FOCUS_DELAY_MS = 150;

/** Position and size of the settings window when the list of locations fits, in pixels. */
const WINDOW_GEOMETRY = { x: 260, y: 120, width: 620, height: 380 };

/** Height of one row of the list of locations, in pixels: a Remove button and its margins. */
const LOCATION_ROW_HEIGHT = 34;

/** Rows of the list of locations that the window of WINDOW_GEOMETRY.height shows without scrolling. */
const LOCATION_ROWS_IN_BASE_HEIGHT = 5;

/** Space kept free under the window's top edge for a window manager's title bar, in pixels. */
const TITLE_BAR_ALLOWANCE = 40;

/**
 * Returns the window's height: tall enough for `nodeCount` rows of locations, but never past the bottom of the
 * screen's available area. The list scrolls for the rows that do not fit, so the fields to add a location and the
 * Close button stay on the screen.
 */
export function settingsWindowHeight(nodeCount: number): number {
  const fullHeight = WINDOW_GEOMETRY.height + Math.max(0, nodeCount - LOCATION_ROWS_IN_BASE_HEIGHT) * LOCATION_ROW_HEIGHT;
  const available = QApplication.primaryScreen()?.availableGeometry();
  if (!available) return fullHeight;
  const maximum = available.top() + available.height() - WINDOW_GEOMETRY.y - TITLE_BAR_ALLOWANCE;
  return Math.max(WINDOW_GEOMETRY.height, Math.min(fullHeight, maximum));
}

/** Label for a message that wraps and is as high as the whole message. */
function messageText(id: string, message: string): React.ReactElement {
  return h(Text, { id, wordWrap: true, style: wrappedTextStyle(message, MESSAGE_WIDTH) }, message);
}

export interface SettingsWindowProps {
  t: Translate;
  styleSheet: string;
  pacs: PacsSettings;
  interfaceSettings: InterfaceSettings;
  nodes: PacsNode[];
  /** Legacy character set that the window's own archive and server use until the window restarts. */
  legacyCharacterSetInUse: LegacyCharacterSetInUse;
  /** Saves the PACS section; returns an error message for an invalid value. */
  onSavePacs: (changes: Partial<PacsSettings>) => string | undefined;
  /** Applies and saves a language, a theme or the tray icon switch at once. */
  onInterfaceChange: (changes: Partial<InterfaceSettings>) => void;
  onAddNode: (node: PacsNode) => string | undefined;
  onRemoveNode: (name: string) => void;
  onClose: () => void;
}

/** Props of the Locations tab: the window's props, and the confirmation that the window shows before a location is removed. */
interface LocationsTabProps extends SettingsWindowProps {
  nameRef: React.MutableRefObject<QLineEdit | null>;
  onRequestRemove: (node: PacsNode) => void;
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
  const [startWithWindow, setStartWithWindow] = useState(props.pacs.startWithWindow);
  const [legacyCharacterSet, setLegacyCharacterSet] = useState<LegacyCharacterSet>(props.pacs.legacyCharacterSet);
  const [message, setMessage] = useState('');
  const characterSetChoices = legacyCharacterSetChoices(t);
  const save = () => {
    const problem = aeTitleProblem(t, aeTitle) ?? portProblem(t, port);
    if (problem !== undefined) {
      setMessage(problem);
      return;
    }
    const error = props.onSavePacs({
      aeTitle: aeTitle.trim(),
      host: host.trim(),
      port: Number(port),
      acceptAnyCallingAeTitle: acceptAny,
      startWithWindow,
      legacyCharacterSet,
    });
    setMessage(error ?? pacsSavedMessage(t, legacyCharacterSet, props.legacyCharacterSetInUse));
  };
  return h(
    View,
    { style: 'flex-direction: column; padding: 8px;' },
    row(t('settings.aeTitle'), h(LineEdit, { id: 'settings-aet', ref: limitAeTitleLength, text: aeTitle, on: { textChanged: setAeTitle } })),
    row(t('settings.host'), h(LineEdit, { id: 'settings-host', text: host, on: { textChanged: setHost } })),
    row(t('settings.port'), h(LineEdit, { id: 'settings-port', text: port, on: { textChanged: setPort } })),
    h(CheckBox, { id: 'settings-accept-any', text: t('settings.acceptAny'), checked: acceptAny, on: { toggled: setAcceptAny } }),
    // Only this box changes the setting; PACS On and the tray menu switch the running server and leave it as it is.
    h(CheckBox, { id: 'settings-start-with-window', text: t('settings.startWithWindow'), checked: startWithWindow, on: { toggled: setStartWithWindow } }),
    row(
      t('settings.legacyCharacterSet'),
      h(ChoiceComboBox, {
        id: 'settings-legacy-charset',
        sizeAdjustPolicy: SizeAdjustPolicy.AdjustToContents,
        texts: characterSetChoices.map((choice) => choice.label),
        currentIndex: characterSetChoices.findIndex((choice) => choice.value === legacyCharacterSet),
        toolTip: t('settings.legacyCharacterSet.toolTip'),
        onActivated: (index: number) => index >= 0 && setLegacyCharacterSet(characterSetChoices[index].value),
      }),
    ),
    h(View, { style: 'flex-direction: row;' }, h(Button, { id: 'settings-save', text: t('button.save'), on: { clicked: save } })),
    messageText('settings-message', message),
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
      h(ChoiceComboBox, {
        id: 'settings-language',
        sizeAdjustPolicy: SizeAdjustPolicy.AdjustToContents,
        texts: ['English', 'Русский'],
        currentIndex: LANGUAGES.indexOf(interfaceSettings.language),
        onActivated: (index: number) => index >= 0 && LANGUAGES[index] !== interfaceSettings.language && props.onInterfaceChange({ language: LANGUAGES[index] }),
      }),
    ),
    row(
      t('settings.theme'),
      h(ChoiceComboBox, {
        id: 'settings-theme',
        // Qt measures the items only when the box is first shown unless told to measure them on every change.
        sizeAdjustPolicy: SizeAdjustPolicy.AdjustToContents,
        texts: [t('settings.theme.light'), t('settings.theme.dark')],
        currentIndex: THEMES.indexOf(interfaceSettings.theme),
        onActivated: (index: number) => index >= 0 && THEMES[index] !== interfaceSettings.theme && props.onInterfaceChange({ theme: THEMES[index] }),
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

function hideHorizontalScrollBar(area: QScrollArea | null): void {
  area?.setHorizontalScrollBarPolicy(ScrollBarPolicy.ScrollBarAlwaysOff);
}

function LocationsTab(props: LocationsTabProps): React.ReactElement {
  const { t, nameRef } = props;
  const [name, setName] = useState('');
  const [address, setAddress] = useState('');
  const [message, setMessage] = useState(() => {
    const pending = nextLocationMessage;
    nextLocationMessage = '';
    return pending;
  });
  useEffect(() => {
    if (!focusLocationName) return undefined;
    focusLocationName = false;
    const timer = setTimeout(() => nameRef.current?.setFocus(), FOCUS_DELAY_MS);
    return () => clearTimeout(timer);
  }, []);

  const add = () => {
    const parsed = parseLocation(t, name, address);
    if (typeof parsed === 'string') {
      setMessage(parsed);
      return;
    }
    // A saved location mounts a new settings window, which takes the focus and the message from here.
    focusLocationName = true;
    nextLocationMessage = t('settings.saved');
    const error = props.onAddNode(parsed);
    if (error !== undefined) {
      focusLocationName = false;
      nextLocationMessage = '';
      setMessage(t('settings.locations.rejected', { message: error }));
    }
  };
  // Yoga's sizes do not reach Qt's size hints, so the list's QWidget minimum height sets how far the scroll area
  // scrolls. The scroll area sets the list's width, but Yoga lays each row out for its content's width. So the rows
  // get the list's width, and the Remove buttons line up on the right instead of following each name.
  const listRef = useRef<QWidget | null>(null);
  const [listWidth, setListWidth] = useState(0);
  const fitRowsToList = () => {
    if (listRef.current) setListWidth(listRef.current.width());
  };
  useEffect(() => {
    listRef.current?.setMinimumHeight(props.nodes.length * LOCATION_ROW_HEIGHT);
  }, [props.nodes.length]);
  const rowHeight = `min-height: ${LOCATION_ROW_HEIGHT}px; max-height: ${LOCATION_ROW_HEIGHT}px;`;
  const rowStyle = `flex-direction: row; align-items: center; ${rowHeight}` + (listWidth > 0 ? ` width: ${listWidth}px;` : '');
  const rows = props.nodes.map((node) =>
    h(
      View,
      { key: node.name, style: rowStyle },
      h(Text, { style: 'flex: 1;' }, `${node.name} — ${node.aeTitle}@${node.host}:${node.port}`),
      h(Button, { id: `location-remove-${node.name}`, text: t('settings.locations.remove'), on: { clicked: () => props.onRequestRemove(node) } }),
    ),
  );
  return h(
    View,
    { style: 'flex-direction: column; padding: 8px;' },
    // The list takes the height that the fields and the message leave, and scrolls, so they stay in the window.
    h(
      ScrollArea,
      { id: 'location-list', ref: hideHorizontalScrollBar, widgetResizable: true, style: 'flex: 1;' },
      h(View, { id: 'location-rows', ref: listRef, style: 'flex-direction: column;', on: { [WidgetEventTypes.Resize]: fitRowsToList } }, ...rows),
    ),
    h(
      View,
      { style: 'flex-direction: row;' },
      h(LineEdit, { id: 'location-name', ref: nameRef, text: name, placeholderText: t('settings.locations.name'), on: { textChanged: setName } }),
      h(LineEdit, { id: 'location-address', text: address, placeholderText: t('settings.locations.addressPlaceholder'), style: 'flex: 1;', on: { textChanged: setAddress } }),
      h(Button, { id: 'location-add', text: t('settings.locations.add'), on: { clicked: add } }),
    ),
    messageText('location-message', message),
  );
}

export function SettingsWindow(props: SettingsWindowProps): React.ReactElement {
  const { t } = props;
  const windowRef = useRef<QMainWindow | null>(null);
  // Esc closes the window like its Close button.
  const dialogRef = useDialogWindowRef('settings-window', () => close());
  // A stable callback, because React calls a new ref callback on every render and the dialog ref activates the window.
  const ref = useCallback(
    (window: QMainWindow | null) => {
      windowRef.current = window;
      dialogRef(window);
    },
    [dialogRef],
  );

  // The window stays open while its own language setting changes its texts.
  const shownLanguage = useRef(props.interfaceSettings.language);
  useEffect(() => {
    if (props.interfaceSettings.language === shownLanguage.current || !windowRef.current) return;
    shownLanguage.current = props.interfaceSettings.language;
    relayoutWindow(windowRef.current);
  }, [props.interfaceSettings.language]);

  const tabsRef = useRef<QTabWidget | null>(null);
  // Qt also reports the tab changes of adding and removing the tabs, so only the changes between this restore and the unmount count.
  const tabsRestored = useRef(false);
  useLayoutEffect(() => {
    tabsRef.current?.setCurrentIndex(shownTab);
    tabsRestored.current = true;
    return () => {
      tabsRestored.current = false;
    };
  }, []);
  const close = () => {
    shownTab = 0;
    props.onClose();
  };

  // The Locations tab's first field takes the focus whenever the tab is shown. Otherwise Qt moves the focus of
  // the hidden tab to the next widget in the chain, the first location's Remove button, and Return would press it.
  const locationNameRef = useRef<QLineEdit | null>(null);
  const showTab = (index: number) => {
    if (!tabsRestored.current) return;
    shownTab = index;
    if (index === LOCATIONS_TAB) locationNameRef.current?.setFocus();
  };

  // A location is removed only after a confirmation with Cancel focused, because Remove deletes it from the settings file at once.
  const [removal, setRemoval] = useState<PacsNode>();
  const cancelRemoval = () => {
    setRemoval(undefined);
    // Without a window manager no window gets the focus back when the dialog closes.
    if (windowRef.current) activate(windowRef.current);
  };
  const confirmRemoval = (node: PacsNode) => {
    focusLocationName = true;
    nextLocationMessage = t('settings.locations.removed', { name: node.name });
    props.onRemoveNode(node.name);
  };
  const removalDialog =
    removal === undefined
      ? null
      : h(ConfirmDialog, {
          key: 'location-remove',
          id: 'location-remove-dialog',
          title: t('settings.locations.removeTitle'),
          text: t('settings.locations.removeConfirm', { name: removal.name, address: `${removal.aeTitle}@${removal.host}:${removal.port}` }),
          t,
          styleSheet: props.styleSheet,
          focusCancel: true,
          onConfirm: () => confirmRemoval(removal),
          onCancel: cancelRemoval,
        });

  // The PACS tab's rows and a message of three lines fill the 380 pixels, so the window cannot be made lower.
  const window = h(
    Window,
    {
      id: 'settings-window',
      ref,
      windowTitle: t('settings.title'),
      minSize: { width: 560, height: WINDOW_GEOMETRY.height },
      styleSheet: props.styleSheet,
      visible: true,
      geometry: { ...WINDOW_GEOMETRY, height: settingsWindowHeight(props.nodes.length) },
    },
    h(
      View,
      { style: 'flex-direction: column; padding: 8px; flex: 1;' },
      h(
        Tabs,
        { id: 'settings-tabs', ref: tabsRef, style: 'flex: 1;', on: { currentChanged: showTab } },
        h(TabItem, { title: t('settings.tab.pacs') }, h(PacsTab, props)),
        h(TabItem, { title: t('settings.tab.interface') }, h(InterfaceTab, props)),
        h(TabItem, { title: t('settings.tab.locations') }, h(LocationsTab, { ...props, nameRef: locationNameRef, onRequestRemove: setRemoval })),
      ),
      h(View, { style: 'flex-direction: row;' }, h(Button, { id: 'settings-close', text: t('button.close'), on: { clicked: close } })),
    ),
  );
  return h(React.Fragment, {}, window, removalDialog);
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
  const dialogRef = useRef<QFileDialog | null>(null);
  const ref = useDialogWindowRef('license-window', props.onCancel);
  // The service's reason for a missing license repeats the sentence, so that case gets a text of its own.
  const text = props.problem === MISSING_LICENSE_MESSAGE ? t('license.missing') : t('license.text', { message: props.problem });
  const choose = () => {
    const dialog = new QFileDialog();
    dialog.setFileMode(FileMode.ExistingFile);
    dialog.setWindowTitle(t('license.choose'));
    dialog.addEventListener('fileSelected', (file: string) => {
      setMessage(props.onActivate(file).message);
    });
    dialogRef.current = dialog;
    dialog.open();
  };
  const height = wrappedTextHeight(text, LICENSE_TEXT_WIDTH) + wrappedTextHeight(message, LICENSE_TEXT_WIDTH) + BUTTON_ROW_HEIGHT;
  const width = LICENSE_TEXT_WIDTH + 20;
  return h(
    Window,
    {
      id: 'license-window',
      ref,
      windowTitle: t('license.title'),
      minSize: { width, height },
      styleSheet: props.styleSheet,
      visible: true,
      geometry: { x: DIALOG_GEOMETRY.x, y: DIALOG_GEOMETRY.y, width, height },
    },
    h(
      View,
      { style: 'flex-direction: column; padding: 10px;' },
      h(Text, { id: 'license-text', wordWrap: true, style: wrappedTextStyle(text, LICENSE_TEXT_WIDTH) }, text),
      h(Text, { id: 'license-message', wordWrap: true, style: wrappedTextStyle(message, LICENSE_TEXT_WIDTH) }, message),
      h(
        View,
        { style: 'flex-direction: row;' },
        h(View, { style: 'flex: 1;' }),
        h(Button, { id: 'license-choose', text: t('license.choose'), on: { clicked: choose } }),
        h(Button, { id: 'license-cancel', text: t('button.cancel'), on: { clicked: props.onCancel } }),
        // The loader runs without a license (it only logs a warning), so Continue is enabled before any activation.
        h(Button, { id: 'license-continue', text: t('license.continue'), on: { clicked: props.onContinue } }),
      ),
    ),
  );
}
