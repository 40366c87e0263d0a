/**
 * The notice lines under the status bar for one kind of server event, such as
 * rejected associations: one line per key with its own Hide button, newest
 * first. At most NOTICE_LINES_SHOWN lines show, and a last line counts the
 * others, so many senders do not push the panels out of the window.
 */
import { Button, Text, View } from '@nodegui/react-nodegui';
import React from 'react';

import type { RepeatedNotice } from '../controllers/repeated-notices';
import type { Translate } from '../i18n';

const h = React.createElement;

/**
 * Maximum number of notice lines of one kind that the window shows at once. In Russian at 1340 x 670 pixels,
 * three wrapped lines and the count line take about 260 pixels, and the study tables keep about 160.
 */
export const NOTICE_LINES_SHOWN = 3;

export interface NoticeBarsProps<T> {
  /**
   * Prefix of the widget ids. The first line keeps the plain ids (`server-notice-bar`, `server-notice`,
   * `server-notice-dismiss`), line n + 1 appends `-n`, and the count line is `{id}-more`.
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
 * Renders the notice lines, or null when there is none, so that React unmounts the bars and their ids. Lines are
 * keyed by the notice's key, so a new notice gets a new label instead of a reused one measured for another text.
 */
export function NoticeBars<T>(props: NoticeBarsProps<T>): React.ReactElement | null {
  const { id, t, notices } = props;
  if (notices.length === 0) return null;

  const lines = notices.slice(0, NOTICE_LINES_SHOWN).map((notice, index) => {
    const suffix = index === 0 ? '' : `-${index}`;
    return h(
      View,
      { key: notice.key, id: `${id}-bar${suffix}`, style: 'flex-direction: row; padding-top: 4px;' },
      h(Text, { id: `${id}${suffix}`, wordWrap: true, style: 'flex: 1;' }, props.describe(notice)),
      h(Button, { id: `${id}-dismiss${suffix}`, text: t('server.rejected.dismiss'), on: { clicked: () => props.onDismiss(notice.key) } }),
    );
  });

  const more = notices.length - NOTICE_LINES_SHOWN;
  if (more > 0) {
    lines.push(
      h(
        View,
        { key: '\u0000more', id: `${id}-more-bar`, style: 'flex-direction: row; padding-top: 4px;' },
        h(Text, { id: `${id}-more`, style: 'flex: 1;' }, t('server.notices.more', { count: more })),
        h(Button, { id: `${id}-dismiss-all`, text: t('server.notices.dismissAll'), on: { clicked: props.onDismissAll } }),
      ),
    );
  }
  // A fragment adds no widget, so the lines are direct children of the window's column, as the single notice was.
  return h(React.Fragment, {}, ...lines);
}
