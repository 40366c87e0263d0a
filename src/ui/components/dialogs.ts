/**
 * Non-blocking dialogs of the main window, each a separate top-level window
 * rendered while its state is set: send, registered locations (Fill) and the
 * scan confirmation. None of them calls QDialog.exec(), which would stop
 * Node's event loop.
 */
import { QKeySequence, QMainWindow, QPushButton, QShortcut, TextFormat } from '@nodegui/nodegui';
import type { QLabel, QWidget } from '@nodegui/nodegui';
import { Button, Text, View, Window } from '@nodegui/react-nodegui';
import React, { useCallback, useEffect, useRef, useState } from 'react';

import type { LocationEntry } from '../controllers/app-controller';
import type { MessageKey, Translate } from '../i18n';

import { trackWindow } from '../test-hooks';
import { ChoiceComboBox } from './choice-combo-box';
import { wrappedTextHeight, wrappedTextStyle } from './wrapped-text';

const h = React.createElement;

/**
 * Initial place and size of a dialog. Without a window manager (under Xvfb)
 * every window would open at the top left corner, over the main window.
 */
export const DIALOG_GEOMETRY = { x: 320, y: 180, width: 480, height: 180 };

/** Delay before a new dialog takes the keyboard focus, in milliseconds, so that Qt has shown it first. */
const ACTIVATE_DELAY_MS = 50;

/** Delay before a dialog is grown to fit its content, in milliseconds: after NodeGui's layout, which runs 10 ms after a change. */
const FIT_DELAY_MS = 50;

const dialogRefs = new Map<string, (window: QWidget | null) => void>();

/**
 * Returns a stable ref callback for the top-level window `id`: it tracks the
 * window for the test hooks and gives it the keyboard focus once shown.
 * Without a window manager (under Xvfb) no window gets the focus by itself,
 * so keys would go nowhere.
 */
export function dialogWindowRef(id: string): (window: QWidget | null) => void {
  let ref = dialogRefs.get(id);
  if (!ref) {
    const track = trackWindow(id);
    let mounted: QWidget | null = null;
    ref = (window) => {
      track(window);
      mounted = window;
      // The check skips a window that was unmounted before the timer fired, whose native object may be gone.
      if (window) setTimeout(() => mounted === window && activate(window), ACTIVATE_DELAY_MS);
    };
    dialogRefs.set(id, ref);
  }
  return ref;
}

/**
 * Returns a stable ref callback for the dialog window `id` that does what
 * dialogWindowRef does and also binds Esc to the latest `onCancel`, the
 * action of the dialog's Cancel, Exit or Close button, and Return and Enter
 * to a click on the focused button. It is stable because React calls a new
 * ref callback on every render, and the ref activates the window.
 */
export function useDialogWindowRef(id: string, onCancel: () => void): (window: QWidget | null) => void {
  const cancel = useRef(onCancel);
  cancel.current = onCancel;
  // The shortcuts' wrappers are kept while the window is mounted, so their signal handlers stay alive.
  const escape = useRef<QShortcut>();
  const returnKeys = useRef<QShortcut[]>([]);
  const mounted = useRef<QWidget | null>(null);
  // Every render may change the texts and the window's geometry prop, so the fit follows each one.
  useEffect(() => {
    const timer = setTimeout(() => mounted.current && fitWindowToContent(mounted.current), FIT_DELAY_MS);
    return () => clearTimeout(timer);
  });
  return useCallback(
    (window: QWidget | null) => {
      dialogWindowRef(id)(window);
      mounted.current = window;
      if (!window) {
        escape.current = undefined;
        returnKeys.current = [];
        return;
      }
      if (escape.current) return;
      const shortcut = new QShortcut(window);
      shortcut.setKey(new QKeySequence('Escape'));
      shortcut.addEventListener('activated', () => cancel.current());
      escape.current = shortcut;
      // Qt clicks a QPushButton on Return only inside a QDialog, and these dialogs are plain windows.
      returnKeys.current = ['Return', 'Enter'].map((key) => {
        const returnKey = new QShortcut(window);
        returnKey.setKey(new QKeySequence(key));
        returnKey.addEventListener('activated', () => clickFocusedButton(window));
        return returnKey;
      });
    },
    [id],
  );
}

/** Clicks the button of `window` that has the keyboard focus, and does nothing when another widget has it. */
function clickFocusedButton(window: QWidget): void {
  const focused = window.focusWidget();
  if (focused instanceof QPushButton && focused.isEnabled()) focused.click();
}

/**
 * Grows the window until its central widget shows all of its children, with
 * the same margin below them as above them. NodeGui 0.74.2 lays the window
 * out with Yoga at the window's own size. A computed height that is too small,
 * such as for a wrapped label that Qt makes taller than estimated, puts the
 * last rows below the window's bottom edge. Without a window manager nothing
 * else grows the window. The minimum size grows too, so a resize keeps the
 * rows shown.
 */
export function fitWindowToContent(window: QWidget): void {
  if (!(window instanceof QMainWindow)) return;
  const central = window.centralWidget();
  const content = central.childrenRect();
  if (content.width() === 0 || content.height() === 0) return;
  const origin = central.pos();
  const width = Math.max(window.width(), origin.x + content.left() + content.width() + content.left());
  const height = Math.max(window.height(), origin.y + content.top() + content.height() + content.top());
  if (width === window.width() && height === window.height()) return;
  const minimum = window.minimumSize();
  window.setMinimumSize(Math.max(minimum.width(), width), Math.max(minimum.height(), height));
  window.resize(width, height);
}

/**
 * Ref of a dialog label whose text contains stored values, such as patient
 * names or paths: the label shows its text as plain text, because in Qt's
 * default AutoText format a name such as "<b>Name</b>" would show as HTML.
 */
function plainTextLabelRef(label: QLabel | null): void {
  label?.setTextFormat(TextFormat.PlainText);
}

/** Raises the window and gives it the keyboard focus. */
export function activate(window: QWidget): void {
  window.raise();
  window.activateWindow();
}

export interface SendDialogProps {
  t: Translate;
  styleSheet: string;
  count: number;
  source: string;
  target: string;
  /** Lines that name the patients of the selected studies (selectedPatientsText); empty hides them. */
  patients: string;
  /** True for a retrieve from a PACS, where GET or MOVE is chosen. */
  chooseMethod: boolean;
  onSend: (method: 'get' | 'move') => void;
  onExit: () => void;
}

export function SendDialog(props: SendDialogProps): React.ReactElement {
  const { t } = props;
  const [method, setMethod] = useState<'get' | 'move'>('get');
  const ref = useDialogWindowRef('send-dialog', props.onExit);
  const summary = t('transfer.summary', { count: props.count, source: props.source, target: props.target });
  const width = DIALOG_TEXT_WIDTH + 20;
  const patientsHeight = props.patients === '' ? 0 : wrappedTextHeight(props.patients, DIALOG_TEXT_WIDTH) + PARAGRAPH_GAP;
  const methodHeight = props.chooseMethod ? COMBO_ROW_HEIGHT : 0;
  const height = wrappedTextHeight(summary, DIALOG_TEXT_WIDTH) + patientsHeight + methodHeight + BUTTON_ROW_HEIGHT;
  return h(
    Window,
    { id: 'send-dialog', ref, windowTitle: t('transfer.title'), minSize: { width, height }, styleSheet: props.styleSheet, visible: true, geometry: { x: DIALOG_GEOMETRY.x, y: DIALOG_GEOMETRY.y, width, height } },
    h(
      View,
      { style: 'flex-direction: column; padding: 10px;' },
      h(Text, { id: 'send-summary', ref: plainTextLabelRef, wordWrap: true, style: wrappedTextStyle(summary, DIALOG_TEXT_WIDTH) }, summary),
      props.patients === ''
        ? h(View, {})
        : h(Text, { id: 'send-patients', ref: plainTextLabelRef, wordWrap: true, style: `${wrappedTextStyle(props.patients, DIALOG_TEXT_WIDTH)} margin-top: ${PARAGRAPH_GAP}px;` }, props.patients),
      props.chooseMethod
        ? h(
            View,
            { style: 'flex-direction: row;' },
            h(Text, {}, t('transfer.method')),
            h(ChoiceComboBox, {
              id: 'send-method',
              texts: [t('transfer.get'), t('transfer.move')],
              currentIndex: method === 'get' ? 0 : 1,
              onActivated: (index: number) => index >= 0 && setMethod(index === 1 ? 'move' : 'get'),
            }),
          )
        : h(View, {}),
      h(
        View,
        { style: 'flex-direction: row; padding-top: 8px;' },
        h(View, { style: 'flex: 1;' }),
        h(Button, { id: 'send-confirm', text: t('transfer.send'), on: { clicked: () => props.onSend(method) } }),
        h(Button, { id: 'send-exit', text: t('button.cancel'), on: { clicked: props.onExit } }),
      ),
    ),
  );
}

export interface FillDialogProps {
  t: Translate;
  styleSheet: string;
  locations: LocationEntry[];
  onChoose: (location: LocationEntry) => void;
  onCancel: () => void;
}

export function FillDialog(props: FillDialogProps): React.ReactElement {
  const { t, locations } = props;
  const [index, setIndex] = useState(0);
  const ref = useDialogWindowRef('fill-dialog', props.onCancel);
  const text = locations.length === 0 ? t('fill.empty') : t('fill.hint');
  const width = DIALOG_TEXT_WIDTH + 20;
  const comboHeight = locations.length === 0 ? 0 : COMBO_ROW_HEIGHT;
  const height = wrappedTextHeight(text, DIALOG_TEXT_WIDTH) + comboHeight + BUTTON_ROW_HEIGHT;
  return h(
    Window,
    { id: 'fill-dialog', ref, windowTitle: t('fill.title'), minSize: { width, height }, styleSheet: props.styleSheet, visible: true, geometry: { x: DIALOG_GEOMETRY.x, y: DIALOG_GEOMETRY.y, width, height } },
    h(
      View,
      { style: 'flex-direction: column; padding: 10px;' },
      h(Text, { id: 'fill-text', wordWrap: true, style: wrappedTextStyle(text, DIALOG_TEXT_WIDTH) }, text),
      locations.length === 0
        ? h(View, {})
        : h(ChoiceComboBox, {
            id: 'fill-locations',
            texts: locations.map((location) => `${location.name} — ${location.description}`),
            currentIndex: index,
            onActivated: (next: number) => next >= 0 && setIndex(next),
          }),
      h(
        View,
        { style: 'flex-direction: row; padding-top: 8px;' },
        h(View, { style: 'flex: 1;' }),
        h(Button, { id: 'fill-ok', text: t('button.ok'), enabled: locations.length > 0, on: { clicked: () => locations[index] && props.onChoose(locations[index]) } }),
        h(Button, { id: 'fill-cancel', text: t('button.cancel'), on: { clicked: props.onCancel } }),
      ),
    ),
  );
}

/** Width of the text of a confirmation dialog and of the Fill dialog, in pixels. */
const DIALOG_TEXT_WIDTH = 460;

/** Height of the combo box row of the Fill and send dialogs, in pixels. */
const COMBO_ROW_HEIGHT = 26;

/** Space between two blocks of text in a dialog, in pixels. */
const PARAGRAPH_GAP = 6;

/** Height of a dialog's button row and the padding around it, in pixels. */
export const BUTTON_ROW_HEIGHT = 60;

/** Confirm button text of each confirmation dialog, so that the button says what it does. */
const CONFIRM_LABELS: Record<string, MessageKey> = {
  'host-key-dialog': 'ssh.hostKey.accept',
  'scan-dialog': 'scan.start',
  'delete-dialog': 'delete.start',
  'ssh-send-dialog': 'ssh.transfer.start',
  'location-remove-dialog': 'settings.locations.remove',
};

export interface ConfirmDialogProps {
  id: string;
  title: string;
  text: string;
  /** Text of the confirm button; by default the dialog id's entry in CONFIRM_LABELS, or OK. */
  confirmText?: string;
  t: Translate;
  styleSheet: string;
  /** Gives Cancel the keyboard focus instead of the confirm button, for an action that cannot be undone, so that Return cancels it. */
  focusCancel?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

/** Dialog with a question and two buttons, sized to show all of the question; Esc cancels. */
export function ConfirmDialog(props: ConfirmDialogProps): React.ReactElement {
  const { t } = props;
  const cancelRef = useRef<QPushButton | null>(null);
  // Qt gives a widget of an inactive window the focus when the window is activated, which dialogWindowRef does after ACTIVATE_DELAY_MS.
  useEffect(() => {
    if (props.focusCancel) cancelRef.current?.setFocus();
  }, [props.focusCancel]);
  const textHeight = wrappedTextHeight(props.text, DIALOG_TEXT_WIDTH);
  const width = DIALOG_TEXT_WIDTH + 20;
  const height = textHeight + BUTTON_ROW_HEIGHT;
  const labelKey = CONFIRM_LABELS[props.id];
  const confirmText = props.confirmText ?? (labelKey === undefined ? t('button.ok') : t(labelKey));
  const ref = useDialogWindowRef(props.id, props.onCancel);
  return h(
    Window,
    {
      id: props.id,
      ref,
      windowTitle: props.title,
      minSize: { width, height },
      styleSheet: props.styleSheet,
      visible: true,
      geometry: { x: DIALOG_GEOMETRY.x, y: DIALOG_GEOMETRY.y, width, height },
    },
    h(
      View,
      { style: 'flex-direction: column; padding: 10px;' },
      h(Text, { id: `${props.id}-text`, ref: plainTextLabelRef, wordWrap: true, style: `width: ${DIALOG_TEXT_WIDTH}px; min-height: ${textHeight}px;` }, props.text),
      h(
        View,
        { style: 'flex-direction: row; padding-top: 8px;' },
        h(View, { style: 'flex: 1;' }),
        h(Button, { id: `${props.id}-ok`, text: confirmText, on: { clicked: props.onConfirm } }),
        h(Button, { id: `${props.id}-cancel`, ref: cancelRef, text: t('button.cancel'), on: { clicked: props.onCancel } }),
      ),
    ),
  );
}
