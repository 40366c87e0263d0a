/** Qt style sheets of the light and dark themes, applied to the whole application. */
import type { Theme } from '../services/settings/settings-types';
import { assetPath } from './qt-runtime';

/** White check mark drawn on the accent colour of a checked box, 14 x 14 pixels like the box. */
export const CHECK_MARK_FILE = 'checkbox-check.png';

interface Palette {
  window: string;
  base: string;
  alternate: string;
  text: string;
  mutedText: string;
  border: string;
  button: string;
  buttonHover: string;
  accent: string;
  accentText: string;
  /** Frame of an unchecked check box, with more contrast against the window than the frames of fields. */
  indicatorBorder: string;
}

const PALETTES: Record<Theme, Palette> = {
  light: {
    window: '#f3f4f6',
    base: '#ffffff',
    alternate: '#f7f9fc',
    text: '#1f2933',
    mutedText: '#52606d',
    border: '#c5ccd3',
    button: '#e4e7eb',
    buttonHover: '#d3d8de',
    accent: '#2563eb',
    accentText: '#ffffff',
    indicatorBorder: '#7b8794',
  },
  dark: {
    window: '#1e2227',
    base: '#262b31',
    alternate: '#2c3238',
    text: '#e4e7eb',
    mutedText: '#9aa5b1',
    border: '#3e4750',
    button: '#343b43',
    buttonHover: '#414a54',
    accent: '#3b82f6',
    accentText: '#ffffff',
    indicatorBorder: '#9aa5b1',
  },
};

/**
 * Returns the style sheet of check box indicators. Qt's default indicator was
 * nearly invisible on the dark theme's colours. Both themes therefore draw
 * their own: a contrasting frame on the field colour, and the accent colour
 * with a white check mark when checked.
 */
function checkBoxRules(p: Palette, checkMark: string | undefined): string {
  const image = checkMark === undefined ? '' : `image: url("${checkMark}");`;
  return `
    QCheckBox::indicator { width: 14px; height: 14px; border: 1px solid ${p.indicatorBorder}; border-radius: 2px; background-color: ${p.base}; }
    QCheckBox::indicator:hover, QCheckBox::indicator:focus { border-color: ${p.accent}; }
    QCheckBox::indicator:checked { background-color: ${p.accent}; border-color: ${p.accent}; ${image} }
    QCheckBox::indicator:disabled { border-color: ${p.border}; background-color: ${p.window}; }
    QCheckBox::indicator:checked:disabled { background-color: ${p.mutedText}; border-color: ${p.mutedText}; }
  `;
}

/**
 * Returns the application style sheet for the theme. Without the package's
 * assets folder, checked boxes show the accent colour without a check mark.
 */
export function styleSheetFor(theme: Theme, checkMark = assetPath(CHECK_MARK_FILE)): string {
  const p = PALETTES[theme];
  return `
    QWidget { background-color: ${p.window}; color: ${p.text}; font-family: "DejaVu Sans"; font-size: 13px; }
    QLineEdit, QComboBox, QTableWidget, QListWidget, QPlainTextEdit {
      background-color: ${p.base}; border: 1px solid ${p.border}; border-radius: 3px; padding: 3px;
      selection-background-color: ${p.accent}; selection-color: ${p.accentText};
    }
    QTableWidget { alternate-background-color: ${p.alternate}; gridline-color: ${p.border}; }
    QHeaderView::section { background-color: ${p.button}; color: ${p.text}; border: 1px solid ${p.border}; padding: 3px; }
    QPushButton { background-color: ${p.button}; border: 1px solid ${p.border}; border-radius: 3px; padding: 4px 10px; }
    QPushButton:hover { background-color: ${p.buttonHover}; }
    QPushButton:disabled { color: ${p.mutedText}; }
    QPushButton#primary, QPushButton#transfer { background-color: ${p.accent}; color: ${p.accentText}; border-color: ${p.accent}; }
    QCheckBox#server-switch { font-weight: bold; }
    QLabel#muted, QLabel#left-selection, QLabel#right-selection { color: ${p.mutedText}; }
    QLabel#status-text { padding: 2px; }
    QProgressBar { border: 1px solid ${p.border}; border-radius: 3px; text-align: center; background-color: ${p.base}; }
    QProgressBar::chunk { background-color: ${p.accent}; }
    QTabWidget::pane { border: 1px solid ${p.border}; }
    QTabBar::tab { background-color: ${p.button}; padding: 5px 12px; border: 1px solid ${p.border}; }
    QTabBar::tab:selected { background-color: ${p.base}; }
  ` + focusRules(p) + checkBoxRules(p, checkMark);
}

/**
 * Returns the style sheet of the keyboard focus mark: a two-pixel frame in
 * the accent colour. The padding shrinks by the pixel the frame grows, so a
 * widget keeps its size when it takes the focus.
 */
function focusRules(p: Palette): string {
  return `
    QPushButton:focus { border: 2px solid ${p.accent}; padding: 3px 9px; outline: none; }
    QPushButton#primary:focus, QPushButton#transfer:focus { border-color: ${p.text}; }
    QLineEdit:focus, QComboBox:focus, QTableWidget:focus, QListWidget:focus, QPlainTextEdit:focus { border: 2px solid ${p.accent}; padding: 2px; }
    QTabBar::tab:focus { border: 2px solid ${p.accent}; padding: 4px 11px; }
  `;
}
