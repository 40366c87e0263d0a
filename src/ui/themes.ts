/** Qt style sheets of the light and dark themes, applied to the whole application. */
import type { Theme } from '../services/settings/settings-types';

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
  },
};

/** Returns the application style sheet for the theme. */
export function styleSheetFor(theme: Theme): string {
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
  `;
}
