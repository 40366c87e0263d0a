/**
 * A combo box of fixed choices that fills its items only when their texts
 * change. react-nodegui 0.14 applies every prop of a ComboBox at every
 * render of its parent, and its `items` setter clears and refills the box.
 * A render while the drop-down list is open, such as the Local panel's
 * refresh after the server stored a study, then moves the list's current
 * row back to the selected item. The key or mouse selection that follows
 * activates that item instead of the one the user moved to.
 */
import type { QComboBox, SizeAdjustPolicy } from '@nodegui/nodegui';
import { ComboBox } from '@nodegui/react-nodegui';
import React, { useLayoutEffect, useRef } from 'react';

export interface ChoiceComboBoxProps {
  /** objectName of the combo box. */
  id: string;
  /** Left at Qt's default when undefined. */
  sizeAdjustPolicy?: SizeAdjustPolicy;
  texts: string[];
  currentIndex: number;
  /** Text shown when the pointer rests on the box; none when undefined. */
  toolTip?: string;
  /** Receives the index that the user chose with the mouse or the keyboard. */
  onActivated: (index: number) => void;
}

export function ChoiceComboBox(props: ChoiceComboBoxProps): React.ReactElement {
  const { id, sizeAdjustPolicy, texts, currentIndex, toolTip, onActivated } = props;
  const comboRef = useRef<QComboBox>(null);

  // react-nodegui 0.14 has no toolTip prop, so the tooltip is set on the Qt widget.
  useLayoutEffect(() => {
    if (toolTip !== undefined) comboRef.current?.setToolTip(toolTip);
  }, [toolTip]);

  // A language switch changes the texts, and only then are the items replaced.
  useLayoutEffect(() => {
    const combo = comboRef.current;
    if (!combo) return;
    combo.clear();
    combo.addItems(texts);
    combo.setCurrentIndex(currentIndex);
  }, [texts.join('\n')]);

  // Setting the index that the box already has changes nothing, so an open list keeps its current row.
  // react-nodegui passes a present but undefined prop on to Qt, so an unset policy is left out.
  const policy = sizeAdjustPolicy === undefined ? {} : { sizeAdjustPolicy };
  return React.createElement(ComboBox, { id, ref: comboRef, ...policy, currentIndex, on: { activated: onActivated } });
}
