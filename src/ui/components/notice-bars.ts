/**
 * The notice bar under the status bar for one kind of server event, such as
 * rejected associations. The bar shows the newest notice with its Hide button,
 * and a count of the other notices of its kind with a Hide all button. So many
 * senders take one bar, and the study tables keep most of the window's height.
 * Hiding the newest notice shows the next one in its place.
 */
import { Button, Text, View } from '@nodegui/react-nodegui';
import React from 'react';

import type { RepeatedNotice } from '../controllers/repeated-notices';
import type { Translate } from '../i18n';
import { WrappedLabel } from './wrapped-label';

const h = React.createElement;

export interface NoticeBarsProps<T> {
  /**
   * Prefix of the widget ids: `{id}-bar` is the bar, `{id}` the newest notice's text, `{id}-dismiss` its Hide
   * button, `{id}-more` the count of the other notices and `{id}-dismiss-all` the Hide all button.
   */
  id: string;
  t: Translate;
  /** Shown notices, newest first. */
  notices: readonly RepeatedNotice<T>[];
  describe: (notice: RepeatedNotice<T>) => string;
  /** Hides the notice of one key. */
  onDismiss: (key: string) => void;
  /** Hides all notices of this kind. */
  onDismissAll: () => void;
}

/**
 * Renders the bar, or null when there is no notice, so that React unmounts the bar and its ids. The text is a
 * WrappedLabel, which is exactly as high as its wrapped lines: a plain word-wrapped label got the height that Qt's
 * size hint computes for another width, up to twice the lines it shows. The label is keyed by the notice's key, so a
 * new notice gets a new label.
 */
export function NoticeBars<T>(props: NoticeBarsProps<T>): React.ReactElement | null {
  const { id, t, notices } = props;
  if (notices.length === 0) return null;

  const newest = notices[0];
  const others = notices.length - 1;
  return h(
    View,
    { id: `${id}-bar`, style: 'flex-direction: row; align-items: center; padding-top: 4px;' },
    h(
      View,
      { style: 'flex-direction: column; flex: 1;' },
      h(WrappedLabel, { key: newest.key, id, text: props.describe(newest) }),
      others > 0 ? h(Text, { id: `${id}-more` }, t('server.notices.more', { count: others })) : null,
    ),
    h(Button, { id: `${id}-dismiss`, text: t('server.rejected.dismiss'), on: { clicked: () => props.onDismiss(newest.key) } }),
    others > 0 ? h(Button, { id: `${id}-dismiss-all`, text: t('server.notices.dismissAll'), on: { clicked: props.onDismissAll } }) : null,
  );
}
