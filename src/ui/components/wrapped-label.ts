/**
 * Word-wrapped label whose width the layout sets, such as a panel's
 * connection status. NodeGui 0.74.2 gives a wrapped label the height of its
 * first size hint and lays it out again only when something else changes the
 * layout (see wrapped-text.ts). A longer text then stayed one line high, and
 * the rows around it covered the rest. This label sets its height to
 * QLabel's own height for its current width, after every text change and
 * every resize. A minimum height alone let Yoga take the taller height of
 * QLabel's size hint, which Qt computes for a width of its own choosing, not the
 * label's own. A one-line text then got one to three lines of height
 * depending on its length, and the controls below moved between connects.
 */
import { WidgetEventTypes } from '@nodegui/nodegui';
import type { QLabel } from '@nodegui/nodegui';
import { Text } from '@nodegui/react-nodegui';
import React, { useCallback, useEffect, useRef, useState } from 'react';

const h = React.createElement;

export interface WrappedLabelProps {
  id: string;
  text: string;
}

export function WrappedLabel(props: WrappedLabelProps): React.ReactElement {
  const labelRef = useRef<QLabel | null>(null);
  // The height stays 0 until the label has a width. A new height does not change the width of a label in a column.
  const [height, setHeight] = useState(0);
  const fitHeight = useCallback(() => {
    const label = labelRef.current;
    if (!label || label.width() <= 0) return;
    // QLabel's heightForWidth is never less than the minimum height that the style below sets, so without this reset
    // the height could only grow: a label first measured at Qt's default width of 640 pixels kept four lines of height.
    label.setMinimumHeight(0);
    setHeight(label.heightForWidth(label.width()));
  }, []);
  // The effect runs after React has given the label its new text, so Qt measures that text.
  useEffect(fitHeight, [props.text, fitHeight]);
  const style = height > 0 ? `min-height: ${height}px; max-height: ${height}px;` : '';
  return h(Text, { id: props.id, ref: labelRef, wordWrap: true, style, on: { [WidgetEventTypes.Resize]: fitHeight } }, props.text);
}
