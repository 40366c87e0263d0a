/**
 * One-line labels of the status bar that show as much of their text as fits,
 * with an ellipsis, and the full text as the tooltip when it is cut.
 *
 * NodeGui 0.74.2 measures a label once and keeps that width when its text
 * changes (see relayout.ts), so a label sized for "Сервер остановлен" showed
 * only "Ошибка сервера: П" of a longer message. These labels get their flex
 * basis from the width of the full text instead, so the layout follows every
 * change of the text.
 */
import { QFontMetrics, QLabel, TextElideMode, WidgetEventTypes } from '@nodegui/nodegui';
import { Text } from '@nodegui/react-nodegui';
import React, { useEffect, useRef } from 'react';

import { windowFontMetrics } from './wrapped-text';

const h = React.createElement;

/** Pixels added to the measured text width, for the label's margins and font hinting. */
const TEXT_SLACK_PX = 8;

export interface ElidedTextProps {
  id: string;
  text: string;
  /**
   * Share of the free width the label takes beyond its text (Yoga flex-grow).
   * Labels that do not fit shrink in proportion to their text width, and each
   * keeps at least `minWidth` pixels.
   */
  grow: number;
  minWidth: number;
}


export function ElidedText(props: ElidedTextProps): React.ReactElement {
  const labelRef = useRef<QLabel>(null);
  const fullText = useRef(props.text);
  fullText.current = props.text;

  /** Fits the text to the label's width with an ellipsis, and shows the full text as the tooltip when it is cut. */
  const elide = () => {
    const label = labelRef.current;
    if (!label) return;
    const full = fullText.current;
    const elided = new QFontMetrics(label.font()).elidedText(full, TextElideMode.ElideRight, label.width());
    if (label.text() !== elided) label.setText(elided);
    label.setToolTip(elided === full ? '' : full);
  };

  // The basis follows the text, so Yoga lays the bar out again on every change; the Resize event then elides.
  const basis = windowFontMetrics().horizontalAdvance(props.text) + TEXT_SLACK_PX;
  useEffect(elide);
  const style = `flex-grow: ${props.grow}; flex-shrink: 1; flex-basis: ${basis}px; min-width: ${props.minWidth}px;`;
  return h(Text, { id: props.id, ref: labelRef, style, on: { [WidgetEventTypes.Resize]: elide } }, props.text);
}
