/**
 * The study viewer window: the series strip with thumbnails on the left, the
 * viewport in the middle, the header panel on the right, and the window
 * presets and status texts below. Keys go to the window, the mouse to the
 * viewport (see viewport.ts).
 *
 * Load this module only after the qode shim (see qt-runtime.ts).
 */
import {
  AlignmentFlag,
  Direction,
  FocusPolicy,
  ImageConversionFlag,
  Key,
  KeyboardModifier,
  QBoxLayout,
  QIcon,
  QImage,
  QImageFormat,
  QKeyEvent,
  QLabel,
  QMainWindow,
  QPixmap,
  QPushButton,
  QScrollArea,
  QSize,
  QToolButton,
  QWidget,
  ScrollBarPolicy,
  TextFormat,
  ToolButtonStyle,
  WidgetEventTypes,
} from '@nodegui/nodegui';

import { createLogger } from '../../services/logger';
import type { Language, Theme } from '../../services/settings/settings-types';
import type { HeaderSummary } from '../../services/viewer/header-summary';
import { VOI_PRESETS } from '../../services/viewer/render';
import type { VoiPresetName } from '../../services/viewer/render';
import { RenderCancelledError } from '../../services/viewer/viewer';
import type { ImageViewer } from '../../services/viewer/viewer';
import { translator } from '../i18n';
import type { Translate } from '../i18n';
import { trackWindow } from '../test-hooks';
import { styleSheetFor } from '../themes';
import { headerPanelHtml, seriesCaption } from './header-text';
import { SliceStack } from './slice-stack';
import type { SlicePosition } from './slice-stack';
import type { ViewerSeries } from './study-source';
import { Viewport } from './viewport';
import type { WindowMode } from './viewport';

const log = createLogger('loader.viewer.ui');

/** objectName of the viewer's top-level window, as the widget geometry file of the UI tests names it. */
export const VIEWER_WINDOW_ID = 'viewer-window';
/** Edge of a series thumbnail, in pixels. */
const THUMBNAIL_SIZE = 96;
/** Pixels moved by one Shift+arrow key press. */
const PAN_STEP = 32;
/** Presets in the order of their keys 1 to 4; key 0 returns to the file's window. */
const PRESET_KEYS: readonly VoiPresetName[] = ['soft-tissue', 'lung', 'bone', 'brain'];

const VIEWER_STYLE = `
  QLabel#viewer-viewport { background-color: #000000; color: #f0a0a0; padding: 12px; }
  QLabel#viewer-help, QLabel#viewer-zoom { color: #7b8794; }
  QToolButton { padding: 4px; }
  QPushButton:checked, QToolButton:checked { border: 2px solid #2563eb; }
`;

/** Doubles each & of a button text, which Qt would otherwise take as the mark of a keyboard mnemonic. */
function buttonText(text: string): string {
  return text.replace(/&/g, '&&');
}

export interface StudyViewerWindowOptions {
  series: ViewerSeries[];
  /** Render engine; the window closes it when it closes. */
  engine: ImageViewer;
  language: Language;
  theme: Theme;
}

export class StudyViewerWindow {
  /** Resolves after the window closed and the engine's workers stopped. */
  readonly closed: Promise<void>;
  private readonly t: Translate;
  private readonly series: ViewerSeries[];
  private readonly engine: ImageViewer;
  private readonly window = new QMainWindow();
  private readonly viewport: Viewport;
  private readonly seriesButtons: QToolButton[] = [];
  private readonly presetButtons = new Map<WindowMode['kind'] | VoiPresetName, QPushButton>();
  private readonly headerLabel = new QLabel();
  private readonly positionLabel = new QLabel();
  private readonly windowLabel = new QLabel();
  private readonly zoomLabel = new QLabel();
  /** Widgets and icons that must stay referenced while Qt shows them. */
  private readonly keep: unknown[] = [];
  private readonly stacks = new Map<string, SliceStack>();
  private readonly framesCounted = new Set<string>();
  /**
   * Header reads by path. Both the header panel and the frame count need a
   * header, and two reads of one path would supersede each other in the
   * engine, whose header requests share a channel per path.
   */
  private readonly headers = new Map<string, Promise<HeaderSummary>>();
  private selected = -1;
  private position: SlicePosition = { instance: 0, frame: 0 };
  private headerFor: string | undefined;
  private isClosed = false;
  private resolveClosed!: () => void;

  constructor(options: StudyViewerWindowOptions) {
    this.t = translator(options.language);
    this.series = options.series;
    this.engine = options.engine;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.viewport = new Viewport(this.engine, {
      onChange: () => this.updateStatus(),
      onScroll: (notches) => this.step(notches),
    });

    this.window.setObjectName(VIEWER_WINDOW_ID);
    this.window.setWindowTitle(this.t('viewer.title', { name: this.t('app.title') }));
    this.window.setStyleSheet(styleSheetFor(options.theme) + VIEWER_STYLE);
    this.window.resize(1280, 820);
    this.window.setCentralWidget(this.buildLayout());
    this.window.addEventListener(WidgetEventTypes.KeyPress, (event) => this.onKey(new QKeyEvent(event!)));
    this.window.addEventListener(WidgetEventTypes.Close, () => void this.finish());
    trackWindow(VIEWER_WINDOW_ID)(this.window);
  }

  show(): void {
    this.window.show();
    this.window.activateWindow();
    this.window.raise();
    if (this.series.length === 0) {
      this.viewport.showMessage(this.t('viewer.noImages'));
      return;
    }
    this.selectSeries(0);
    this.viewport.label.setFocus();
    void this.renderThumbnails();
  }

  close(): void {
    this.window.close();
  }

  private buildLayout(): QWidget {
    const central = new QWidget();
    const root = new QBoxLayout(Direction.TopToBottom);
    root.setContentsMargins(6, 6, 6, 6);
    central.setLayout(root);

    const body = new QWidget();
    const bodyLayout = new QBoxLayout(Direction.LeftToRight);
    bodyLayout.setContentsMargins(0, 0, 0, 0);
    body.setLayout(bodyLayout);
    bodyLayout.addWidget(this.buildSeriesStrip());
    bodyLayout.addWidget(this.viewport.label, 1);
    bodyLayout.addWidget(this.buildHeaderPanel());
    root.addWidget(body, 1);
    root.addWidget(this.buildToolbar());

    const help = new QLabel();
    help.setObjectName('viewer-help');
    help.setText(this.t('viewer.help'));
    // The Russian help is wider than the default window, so it wraps to a second line instead of being cut.
    help.setWordWrap(true);
    root.addWidget(help);
    this.keep.push(central, root, body, bodyLayout, help);
    return central;
  }

  private buildSeriesStrip(): QScrollArea {
    const strip = new QScrollArea();
    strip.setObjectName('viewer-series-strip');
    strip.setFixedWidth(THUMBNAIL_SIZE + 70);
    strip.setHorizontalScrollBarPolicy(ScrollBarPolicy.ScrollBarAlwaysOff);
    strip.setFocusPolicy(FocusPolicy.NoFocus);
    const content = new QWidget();
    const layout = new QBoxLayout(Direction.TopToBottom);
    layout.setContentsMargins(4, 4, 4, 4);
    content.setLayout(layout);
    this.series.forEach((series, index) => {
      const button = new QToolButton();
      button.setObjectName(`viewer-series-${index + 1}`);
      button.setToolButtonStyle(ToolButtonStyle.ToolButtonTextUnderIcon);
      button.setIconSize(new QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE));
      button.setFixedWidth(THUMBNAIL_SIZE + 40);
      button.setCheckable(true);
      button.setFocusPolicy(FocusPolicy.NoFocus);
      button.setText(buttonText(seriesCaption(series, this.t)));
      if (series.error) button.setToolTip(series.error);
      button.addEventListener('clicked', () => this.selectSeries(index));
      layout.addWidget(button);
      this.seriesButtons.push(button);
    });
    layout.addStretch(1);
    strip.setWidget(content);
    strip.setWidgetResizable(true);
    this.keep.push(content, layout);
    return strip;
  }

  private buildHeaderPanel(): QScrollArea {
    const panel = new QScrollArea();
    panel.setObjectName('viewer-header-panel');
    panel.setFixedWidth(320);
    panel.setFocusPolicy(FocusPolicy.NoFocus);
    panel.setHorizontalScrollBarPolicy(ScrollBarPolicy.ScrollBarAlwaysOff);
    this.headerLabel.setObjectName('viewer-header');
    this.headerLabel.setTextFormat(TextFormat.RichText);
    this.headerLabel.setWordWrap(true);
    this.headerLabel.setAlignment(AlignmentFlag.AlignTop | AlignmentFlag.AlignLeft);
    this.headerLabel.setText(this.t('viewer.loading'));
    panel.setWidget(this.headerLabel);
    panel.setWidgetResizable(true);
    return panel;
  }

  private buildToolbar(): QWidget {
    const toolbar = new QWidget();
    const layout = new QBoxLayout(Direction.LeftToRight);
    layout.setContentsMargins(0, 4, 0, 0);
    toolbar.setLayout(layout);
    const addPreset = (key: 'file' | VoiPresetName, text: string, mode: WindowMode) => {
      const button = new QPushButton();
      button.setObjectName(`viewer-preset-${key}`);
      button.setText(text);
      button.setCheckable(true);
      button.setFocusPolicy(FocusPolicy.NoFocus);
      button.addEventListener('clicked', () => this.viewport.setWindowMode(mode));
      layout.addWidget(button);
      this.presetButtons.set(key, button);
    };
    addPreset('file', `0 ${this.t('viewer.preset.file')}`, { kind: 'file' });
    PRESET_KEYS.forEach((name, index) => {
      const preset = VOI_PRESETS[name];
      addPreset(name, `${index + 1} ${this.t(`viewer.preset.${name}`)}`, { kind: 'preset', name });
      this.presetButtons.get(name)!.setToolTip(this.t('viewer.window', { width: preset.width, center: preset.center }));
    });
    layout.addStretch(1);
    this.windowLabel.setObjectName('viewer-window-values');
    this.zoomLabel.setObjectName('viewer-zoom');
    this.positionLabel.setObjectName('viewer-position');
    this.positionLabel.setMinimumSize(90, 0);
    this.positionLabel.setAlignment(AlignmentFlag.AlignRight | AlignmentFlag.AlignVCenter);
    for (const label of [this.windowLabel, this.zoomLabel, this.positionLabel]) layout.addWidget(label);
    this.keep.push(toolbar, layout);
    return toolbar;
  }

  private stackOf(index: number): SliceStack {
    const series = this.series[index];
    let stack = this.stacks.get(series.key);
    if (!stack) {
      stack = new SliceStack(series.instances);
      this.stacks.set(series.key, stack);
    }
    return stack;
  }

  private selectSeries(index: number): void {
    if (this.isClosed) return;
    this.seriesButtons.forEach((button, buttonIndex) => button.setChecked(buttonIndex === index));
    const series = this.series[index];
    this.selected = index;
    this.position = { instance: 0, frame: 0 };
    this.headerFor = undefined;
    if (series.error) {
      this.viewport.showMessage(series.error);
      this.headerLabel.setText(this.t('viewer.header.unreadable', { message: series.error }));
      this.updateStatus();
      return;
    }
    this.showPosition(true);
    void this.countFrames(index);
  }

  /** Selects the series `delta` places down the strip, and stays at the first or last series. */
  private stepSeries(delta: number): void {
    const next = Math.min(this.series.length - 1, Math.max(0, this.selected + delta));
    if (next === this.selected || next < 0) return;
    this.selectSeries(next);
  }

  /** Moves `delta` images through the selected series. */
  private step(delta: number): void {
    if (this.selected < 0 || this.series[this.selected].error) return;
    const next = this.stackOf(this.selected).step(this.position, delta);
    if (next.instance === this.position.instance && next.frame === this.position.frame) return;
    this.position = next;
    this.showPosition(false);
  }

  private goTo(index: number): void {
    if (this.selected < 0 || this.series[this.selected].error) return;
    this.position = this.stackOf(this.selected).positionAt(index);
    this.showPosition(false);
  }

  private showPosition(newSeries: boolean): void {
    const stack = this.stackOf(this.selected);
    const instance = stack.instance(this.position.instance);
    this.viewport.show(instance.path, this.position.frame, newSeries);
    if (this.headerFor !== instance.path) {
      this.headerFor = instance.path;
      void this.showHeader(instance.path);
    }
    this.updateStatus();
  }

  private readHeader(path: string): Promise<HeaderSummary> {
    let header = this.headers.get(path);
    if (!header) {
      header = this.engine.readHeader(path);
      this.headers.set(path, header);
      // A failed read is tried again the next time the instance is shown.
      header.catch(() => this.headers.delete(path));
    }
    return header;
  }

  private async showHeader(path: string): Promise<void> {
    try {
      const header = await this.readHeader(path);
      if (this.isClosed || this.headerFor !== path) return;
      this.headerLabel.setText(headerPanelHtml(header, this.t));
      const title = header.patient.name ? header.patient.name.replace(/\^+/g, ' ').trim() : this.t('app.title');
      this.window.setWindowTitle(this.t('viewer.title', { name: title }));
    } catch (error) {
      if (error instanceof RenderCancelledError || this.isClosed || this.headerFor !== path) return;
      this.headerLabel.setText(this.t('viewer.header.unreadable', { message: error instanceof Error ? error.message : String(error) }));
    }
  }

  /**
   * Reads the Number of Frames of every instance of a series, one header at a
   * time, so the engine's queue never contains more than one header request in
   * front of the viewport's render requests.
   */
  private async countFrames(index: number): Promise<void> {
    const series = this.series[index];
    if (this.framesCounted.has(series.key)) return;
    this.framesCounted.add(series.key);
    const stack = this.stackOf(index);
    // NOTE: until this loop reaches an instance, it counts as one image, so the shown total can grow while a series of multi-frame instances is open.
    for (let instance = 0; instance < stack.instanceCount; instance++) {
      if (this.isClosed) return;
      try {
        const header = await this.readHeader(stack.instance(instance).path);
        stack.setFrameCount(instance, header.instance.numberOfFrames);
      } catch (error) {
        // The viewport shows the error when the user reaches this instance; it counts as one image.
        if (error instanceof RenderCancelledError) return;
      }
    }
    if (this.isClosed) return;
    series.instances.forEach((entry, instance) => {
      entry.frames = stack.instance(instance).frames;
    });
    this.seriesButtons[index].setText(buttonText(seriesCaption(series, this.t)));
    if (index === this.selected) {
      this.position = stack.clamp(this.position);
      this.updateStatus();
    }
  }

  /** Renders the first image of each series as its thumbnail, after the viewport's first request. */
  private async renderThumbnails(): Promise<void> {
    for (const [index, series] of this.series.entries()) {
      if (this.isClosed) return;
      if (series.error || series.instances.length === 0) continue;
      try {
        const result = await this.engine.renderFrame({
          path: series.instances[0].path,
          frame: 0,
          size: { width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE },
          channel: `thumbnail:${series.key}`,
        });
        if (this.isClosed) return;
        const image = QImage.fromBuffer(Buffer.from(result.rgba.buffer, result.rgba.byteOffset, result.rgba.byteLength), result.width, result.height, QImageFormat.RGBA8888);
        const icon = new QIcon(QPixmap.fromImage(image, ImageConversionFlag.AutoColor));
        this.seriesButtons[index].setIcon(icon);
        this.keep.push(icon);
      } catch (error) {
        if (error instanceof RenderCancelledError) return;
        this.seriesButtons[index].setToolTip(error instanceof Error ? error.message : String(error));
      }
    }
  }

  private updateStatus(): void {
    if (this.isClosed) return;
    const series = this.series[this.selected];
    if (series && !series.error) {
      const stack = this.stackOf(this.selected);
      this.positionLabel.setText(this.t('viewer.position', { current: stack.indexOf(this.position) + 1, total: stack.total }));
    } else {
      this.positionLabel.setText('');
    }

    const mode = this.viewport.windowMode;
    const applied = this.viewport.appliedWindow;
    const shownWindow = mode.kind === 'custom' ? mode.window : applied;
    if (shownWindow && this.viewport.showsImage) {
      this.windowLabel.setText(this.t('viewer.window', { width: Math.round(shownWindow.width), center: Math.round(shownWindow.center) }));
    } else {
      this.windowLabel.setText(this.viewport.showsImage ? this.t('viewer.window.colour') : '');
    }
    this.zoomLabel.setText(this.t('viewer.zoom', { percent: Math.round(this.viewport.zoomFactor * 100) }));

    const checkedKey = mode.kind === 'preset' ? mode.name : mode.kind;
    for (const [key, button] of this.presetButtons) button.setChecked(key === checkedKey);
  }

  private onKey(event: QKeyEvent): void {
    const key = event.key();
    const shift = (event.modifiers() & KeyboardModifier.ShiftModifier) !== 0;
    const arrows: Partial<Record<number, [number, number]>> = {
      [Key.Key_Left]: [-1, 0],
      [Key.Key_Right]: [1, 0],
      [Key.Key_Up]: [0, -1],
      [Key.Key_Down]: [0, 1],
    };
    const arrow = arrows[key];
    if (arrow && shift) {
      this.viewport.panBy(-arrow[0] * PAN_STEP, -arrow[1] * PAN_STEP);
      return;
    }
    // The series buttons take no focus, so Ctrl+Up and Ctrl+Down select the previous and next series from the keyboard.
    const control = (event.modifiers() & KeyboardModifier.ControlModifier) !== 0;
    if (control && (key === Key.Key_Up || key === Key.Key_Down)) {
      this.stepSeries(key === Key.Key_Down ? 1 : -1);
      return;
    }
    switch (key) {
      case Key.Key_Escape:
        this.close();
        return;
      case Key.Key_PageDown:
      case Key.Key_Down:
      case Key.Key_Right:
        this.step(1);
        return;
      case Key.Key_PageUp:
      case Key.Key_Up:
      case Key.Key_Left:
        this.step(-1);
        return;
      case Key.Key_Home:
        this.goTo(0);
        return;
      case Key.Key_End:
        this.goTo(Number.MAX_SAFE_INTEGER);
        return;
      case Key.Key_Plus:
      case Key.Key_Equal:
        this.viewport.zoomSteps(1);
        return;
      case Key.Key_Minus:
        this.viewport.zoomSteps(-1);
        return;
      case Key.Key_0:
        this.viewport.setWindowMode({ kind: 'file' });
        return;
      default:
        break;
    }
    const presetIndex = key - Key.Key_1;
    if (presetIndex >= 0 && presetIndex < PRESET_KEYS.length) this.viewport.setWindowMode({ kind: 'preset', name: PRESET_KEYS[presetIndex] });
  }

  private async finish(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.viewport.close();
    trackWindow(VIEWER_WINDOW_ID)(null);
    try {
      await this.engine.close();
    } catch (error) {
      log.warn('viewer render workers did not stop cleanly', { error: error instanceof Error ? error.message : String(error) });
    }
    log.info('study viewer closed');
    this.resolveClosed();
  }
}
