/**
 * Layout refresh after texts change size, such as a switch of the interface
 * language.
 *
 * NodeGui 0.74.2 lays widgets out with Yoga and caches the size hint of each
 * widget. Only a resize of a window's central widget marks the whole tree as
 * changed, so a button whose text became longer keeps its old width and
 * clips the new text until the window is resized.
 */
import type { QMainWindow } from '@nodegui/nodegui';
import { useEffect, useRef } from 'react';
import type { RefObject } from 'react';

/**
 * Makes NodeGui measure every widget of the window again. The central widget
 * is shrunk by one pixel and restored at once. NodeGui lays out once, 10 ms
 * later, at the restored size, so the window does not visibly change.
 */
export function relayoutWindow(window: QMainWindow): void {
  const central = window.centralWidget();
  const size = central.size();
  central.resize(size.width(), size.height() - 1);
  central.resize(size.width(), size.height());
}

/**
 * Lays the window out again after `text` changes, after React has applied
 * the change. A label that NodeGui measured for a short text, such as the
 * status bar's "Searching…", otherwise keeps that width and clips a longer
 * text that replaces it. The first render does not trigger it.
 */
export function useRelayoutOnTextChange(window: RefObject<QMainWindow | null>, text: string): void {
  const shown = useRef(text);
  useEffect(() => {
    if (text === shown.current || !window.current) return;
    shown.current = text;
    relayoutWindow(window.current);
  }, [text, window]);
}
