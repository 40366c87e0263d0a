/**
 * One side of the main window: the connection type, its fields, the filters
 * and the study table, or for SSH the remote folder's file table. The panel
 * renders the state it is given and reports every change through `update`;
 * the main window runs the services.
 */
import { FileMode, QFileDialog, QLineEdit, QTableWidget, SizeAdjustPolicy } from '@nodegui/nodegui';
import { Button, CheckBox, LineEdit, Text, View } from '@nodegui/react-nodegui';
import React, { useRef } from 'react';

import type { PacsNode } from '../../services/settings/settings-types';
import type { PanelConnection, StudyRow } from '../controllers/app-controller';
import { panelKindChange } from '../controllers/panel-state';
import type { RemoteRow } from '../controllers/ssh-panel-controller';
import type { Translate } from '../i18n';
import { RemoteFileTable } from './remote-file-table';
import { StudyTable } from './study-table';
import { WrappedLabel } from './wrapped-label';

import { ChoiceComboBox } from './choice-combo-box';
import { limitAeTitleLength } from './settings-input';

const h = React.createElement;

/**
 * Returns a style that gives a widget `grow` shares of its row's width, whatever
 * the width of its content. `flex-basis: 0` alone is not enough in NodeGui
 * 0.74.2: its Yoga keeps the flex basis from the first layout pass, which runs
 * for a size hint without a width and so measures the content. `width: 0`
 * makes that pass use 0 as well.
 */
export function flexShare(grow: number): string {
  return `flex-grow: ${grow}; flex-shrink: 1; flex-basis: 0; width: 0;`;
}

export type PanelKind = 'pacs' | 'local' | 'ssh';

/** Date filter choices of a PACS panel; 'day' and 'range' read the date text. */
export const DATE_CHOICES = ['any', 'today', 'yesterday', 'last-7-days', 'last-30-days', 'day', 'range'] as const;
export type DateChoice = (typeof DATE_CHOICES)[number];

/**
 * Size policy of the panels' combo boxes. Qt's default measures the items
 * only when the box is first shown, so after a language switch a longer
 * item, such as "Локально" for "Local", would be cut off.
 */
const COMBO_SIZE_POLICY = SizeAdjustPolicy.AdjustToContents;

/** Modalities offered by the modality filter. */
export const MODALITY_CHOICES = ['CT', 'MR', 'US', 'CR', 'DX', 'MG', 'PT', 'NM', 'XA', 'OT'];

export interface PanelState {
  kind: PanelKind;
  host: string;
  port: string;
  aeTitle: string;
  login: string;
  password: string;
  path: string;
  /** SSH: name of a registered location, which supplies its key file and stored password. */
  name: string;
  /** SSH: port of the workstation's SSH server. */
  sshPort: string;
  /** SSH: the folder to list, and after a listing the absolute path of the listed folder. */
  sshFolder: string;
  /** SSH: entries of the listed folder. */
  remoteRows: RemoteRow[];
  /** SSH: remote paths of the selected entries. */
  selectedPaths: string[];
  connection?: PanelConnection;
  connecting: boolean;
  rows: StudyRow[];
  selectedUids: string[];
  filterText: string;
  dateChoice: DateChoice;
  dateText: string;
  modalities: string[];
  message: string;
}

/**
 * Returns the state of a new panel. Its PACS fields show `node`, the first
 * registered PACS node, as Fill would, and stay empty without one.
 */
export function initialPanelState(kind: PanelKind, path: string, node?: PacsNode): PanelState {
  return {
    kind,
    host: node?.host ?? '',
    port: node === undefined ? '' : String(node.port),
    aeTitle: node?.aeTitle ?? '',
    login: node?.login ?? '',
    password: '',
    path,
    name: '',
    sshPort: '22',
    sshFolder: '',
    remoteRows: [],
    selectedPaths: [],
    connecting: false,
    rows: [],
    selectedUids: [],
    filterText: '',
    dateChoice: 'any',
    dateText: '',
    modalities: [],
    message: '',
  };
}

/** Turns the date choice and text into the `date` of StudyFilters; undefined means any date. */
export function dateFilterOf(state: Pick<PanelState, 'dateChoice' | 'dateText'>): string | undefined {
  if (state.dateChoice === 'any') return undefined;
  if (state.dateChoice === 'day' || state.dateChoice === 'range') return state.dateText.trim() === '' ? undefined : state.dateText.trim();
  return state.dateChoice;
}

export interface PanelProps {
  side: 'left' | 'right';
  state: PanelState;
  t: Translate;
  /** Language of the interface, for the study table's sort. */
  language: string;
  update: (changes: Partial<PanelState>) => void;
  /** Connect, or Return in a connection field. */
  onConnect: () => void;
  /** Search a PACS panel's node, or list a Local panel's archive again. */
  onSearch: () => void;
  onFill: () => void;
  onScan: () => void;
  /** Local: copy the DICOM files of the folder field's folder into the window's archive, after a confirmation. */
  onImport: () => void;
  /** Local: delete the selected studies, after a confirmation. */
  onDelete: () => void;
  /** SSH: a double-click or Enter on a row; undefined for the ".." row. */
  onActivateEntry: (row: RemoteRow | undefined) => void;
  /** SSH: go up to the parent folder. */
  onUp: () => void;
  /** PACS and Local: a double-click or Enter on a study row. */
  onOpenStudy: (studyInstanceUid: string) => void;
  /** Receives the filter box and the table, for keyboard shortcuts. */
  widgetRefs: (refs: { filter?: QLineEdit | null; table?: QTableWidget | null }) => void;
}

const DATE_LABELS: Record<DateChoice, Parameters<Translate>[0]> = {
  any: 'panel.date.any',
  today: 'panel.date.today',
  yesterday: 'panel.date.yesterday',
  'last-7-days': 'panel.date.last7',
  'last-30-days': 'panel.date.last30',
  day: 'panel.date.day',
  range: 'panel.date.range',
};

/** Returns the action of Return in a filter field: search a connected panel, or connect it, which lists its studies. */
function searchOrConnect(props: PanelProps): () => void {
  return props.state.connection === undefined ? props.onConnect : props.onSearch;
}

function labeledField(label: string, field: React.ReactElement, width = ''): React.ReactElement {
  return h(View, { style: `flex-direction: column; ${width}` }, h(Text, { id: 'muted' }, label), field);
}

function pacsFields(props: PanelProps): React.ReactElement {
  const { state, t, update, side } = props;
  return h(
    View,
    { key: 'pacs-fields', style: 'flex-direction: row;' },
    labeledField(t('panel.host'), h(LineEdit, { id: `${side}-host`, text: state.host, on: { textChanged: (host: string) => update({ host }), returnPressed: props.onConnect } }), flexShare(3)),
    labeledField(t('panel.port'), h(LineEdit, { id: `${side}-port`, text: state.port, on: { textChanged: (port: string) => update({ port }), returnPressed: props.onConnect } }), flexShare(1)),
    labeledField(t('panel.aeTitle'), h(LineEdit, { id: `${side}-aet`, ref: limitAeTitleLength, text: state.aeTitle, on: { textChanged: (aeTitle: string) => update({ aeTitle }), returnPressed: props.onConnect } }), flexShare(2)),
    labeledField(t('panel.login'), h(LineEdit, { id: `${side}-login`, text: state.login, on: { textChanged: (login: string) => update({ login }), returnPressed: props.onConnect } }), flexShare(2)),
    labeledField(
      t('panel.password'),
      // EchoMode.Password is 2 in Qt.
      h(LineEdit, { id: `${side}-password`, text: state.password, echoMode: 2, on: { textChanged: (password: string) => update({ password }), returnPressed: props.onConnect } }),
      flexShare(2),
    ),
  );
}

function sshFields(props: PanelProps): React.ReactElement {
  const { state, t, update, side } = props;
  return h(
    View,
    { key: 'ssh-fields', style: 'flex-direction: column;' },
    h(
      View,
      { style: 'flex-direction: row;' },
      labeledField(t('panel.name'), h(LineEdit, { id: `${side}-ssh-name`, text: state.name, on: { textChanged: (name: string) => update({ name }), returnPressed: props.onConnect } }), flexShare(2)),
      labeledField(t('panel.host'), h(LineEdit, { id: `${side}-ssh-host`, text: state.host, on: { textChanged: (host: string) => update({ host }), returnPressed: props.onConnect } }), flexShare(3)),
      labeledField(t('panel.port'), h(LineEdit, { id: `${side}-ssh-port`, text: state.sshPort, on: { textChanged: (sshPort: string) => update({ sshPort }), returnPressed: props.onConnect } }), flexShare(1)),
      labeledField(t('panel.login'), h(LineEdit, { id: `${side}-ssh-login`, text: state.login, on: { textChanged: (login: string) => update({ login }), returnPressed: props.onConnect } }), flexShare(2)),
      labeledField(
        t('panel.password'),
        // EchoMode.Password is 2 in Qt.
        h(LineEdit, { id: `${side}-ssh-password`, text: state.password, echoMode: 2, on: { textChanged: (password: string) => update({ password }), returnPressed: props.onConnect } }),
        flexShare(2),
      ),
    ),
    h(
      View,
      { style: 'flex-direction: row;' },
      labeledField(
        t('panel.remoteFolder'),
        h(LineEdit, { id: `${side}-ssh-folder`, text: state.sshFolder, on: { textChanged: (sshFolder: string) => update({ sshFolder }), returnPressed: props.onConnect } }),
        flexShare(1),
      ),
      h(Button, { id: `${side}-ssh-up`, text: t('panel.up'), enabled: state.connection?.kind === 'ssh' && state.sshFolder !== '/', on: { clicked: props.onUp } }),
    ),
  );
}

function localFields(props: PanelProps, openBrowser: () => void): React.ReactElement {
  const { state, t, update, side } = props;
  return h(
    View,
    { key: 'local-fields', style: 'flex-direction: row;' },
    labeledField(t('panel.path'), h(LineEdit, { id: `${side}-path`, text: state.path, on: { textChanged: (path: string) => update({ path }), returnPressed: props.onConnect } }), flexShare(1)),
    h(Button, { id: `${side}-browse`, text: t('panel.browse'), on: { clicked: openBrowser } }),
  );
}

function pacsFilters(props: PanelProps): React.ReactElement {
  const { state, t, update, side } = props;
  const needsText = state.dateChoice === 'day' || state.dateChoice === 'range';
  return h(
    View,
    { key: 'pacs-filters', style: 'flex-direction: column;' },
    h(
      View,
      { style: 'flex-direction: row;' },
      h(Text, {}, t('panel.date')),
      h(ChoiceComboBox, {
        id: `${side}-date`,
        sizeAdjustPolicy: COMBO_SIZE_POLICY,
        texts: DATE_CHOICES.map((choice) => t(DATE_LABELS[choice])),
        currentIndex: DATE_CHOICES.indexOf(state.dateChoice),
        onActivated: (index: number) => index >= 0 && DATE_CHOICES[index] !== state.dateChoice && update({ dateChoice: DATE_CHOICES[index] }),
      }),
      h(LineEdit, {
        id: `${side}-date-text`,
        text: state.dateText,
        enabled: needsText,
        placeholderText: t('panel.date.placeholder'),
        style: flexShare(1),
        on: { textChanged: (dateText: string) => update({ dateText }), returnPressed: searchOrConnect(props) },
      }),
      h(Button, { id: `${side}-search`, text: t('panel.search'), enabled: state.connection !== undefined, on: { clicked: props.onSearch } }),
    ),
    h(
      View,
      { style: 'flex-direction: row;' },
      h(Text, {}, t('panel.modalities')),
      ...MODALITY_CHOICES.map((modality) =>
        h(CheckBox, {
          key: modality,
          id: `${side}-modality-${modality}`,
          text: modality,
          checked: state.modalities.includes(modality),
          on: {
            toggled: (checked: boolean) =>
              update({ modalities: checked ? [...state.modalities.filter((entry) => entry !== modality), modality] : state.modalities.filter((entry) => entry !== modality) }),
          },
        }),
      ),
    ),
  );
}

function localFilters(props: PanelProps, filterRef: React.RefObject<QLineEdit>): React.ReactElement {
  const { state, t, update, side } = props;
  return h(
    View,
    { key: 'local-filters', style: 'flex-direction: row;' },
    h(LineEdit, {
      id: `${side}-filter`,
      ref: filterRef,
      text: state.filterText,
      placeholderText: t('panel.filter'),
      style: flexShare(1),
      on: { textChanged: (filterText: string) => update({ filterText }), returnPressed: searchOrConnect(props) },
    }),
    h(Button, { id: `${side}-clear`, text: t('panel.clear'), on: { clicked: () => update({ filterText: '' }) } }),
    h(Button, { id: `${side}-scan`, text: t('panel.scan'), enabled: state.connection !== undefined, on: { clicked: props.onScan } }),
    h(Button, { id: `${side}-import`, text: t('panel.import'), enabled: state.path.trim() !== '', on: { clicked: props.onImport } }),
    h(Button, { id: `${side}-delete`, text: t('panel.delete'), enabled: state.connection !== undefined && state.selectedUids.length > 0, on: { clicked: props.onDelete } }),
  );
}

function fieldsOf(props: PanelProps, openBrowser: () => void): React.ReactElement {
  if (props.state.kind === 'pacs') return pacsFields(props);
  if (props.state.kind === 'ssh') return sshFields(props);
  return localFields(props, openBrowser);
}

function filtersOf(props: PanelProps, filterRef: React.RefObject<QLineEdit>): React.ReactElement {
  if (props.state.kind === 'pacs') return pacsFilters(props);
  // The folder field and the Up button of an SSH panel take the place of filters.
  if (props.state.kind === 'ssh') return h(View, { key: 'ssh-filters' });
  return localFilters(props, filterRef);
}

export function Panel(props: PanelProps): React.ReactElement {
  const { state, t, update, side } = props;
  const filterRef = useRef<QLineEdit>(null);
  const dialogRef = useRef<QFileDialog | null>(null);

  const openBrowser = () => {
    // A QFileDialog opened with open() keeps Node's event loop running, unlike exec().
    const dialog = new QFileDialog();
    dialog.setFileMode(FileMode.Directory);
    dialog.setWindowTitle(t('panel.path'));
    dialog.addEventListener('fileSelected', (folder: string) => update({ path: folder }));
    dialogRef.current = dialog;
    dialog.open();
  };

  const kinds: PanelKind[] = ['pacs', 'local', 'ssh'];
  let status = t('panel.notConnected');
  if (state.connection) {
    const readOnly = state.connection.kind === 'local' && state.connection.archive.readOnlyReason !== undefined;
    status = t(readOnly ? 'panel.connectedReadOnly' : 'panel.connected', { name: state.connection.label });
  }
  return h(
    View,
    { id: `${side}-panel`, style: `${flexShare(1)} flex-direction: column; padding: 4px;` },
    h(
      View,
      { style: 'flex-direction: row;' },
      h(Text, {}, t('panel.type')),
      h(ChoiceComboBox, {
        id: `${side}-kind`,
        sizeAdjustPolicy: COMBO_SIZE_POLICY,
        texts: [t('panel.type.pacs'), t('panel.type.local'), t('panel.type.ssh')],
        currentIndex: kinds.indexOf(state.kind),
        onActivated: (index: number) => {
          const kind = kinds[index];
          if (kind === undefined || kind === state.kind) return;
          update(panelKindChange(state, kind));
        },
      }),
      h(View, { style: 'flex: 1;' }),
      h(Button, { id: `${side}-fill`, text: t('panel.fill'), on: { clicked: props.onFill } }),
      h(Button, { id: `${side}-connect`, text: t('panel.connect'), enabled: !state.connecting, on: { clicked: props.onConnect } }),
    ),
    fieldsOf(props, openBrowser),
    h(WrappedLabel, { id: `${side}-connection`, text: state.message === '' ? status : `${status} — ${state.message}` }),
    filtersOf(props, filterRef),
    state.kind === 'ssh'
      ? h(RemoteFileTable, {
          key: 'files',
          id: `${side}-files`,
          rows: state.remoteRows,
          canGoUp: state.connection?.kind === 'ssh' && state.sshFolder !== '/',
          t,
          onSelectionChange: (selectedPaths) => update({ selectedPaths }),
          onActivate: props.onActivateEntry,
          tableRef: (table) => props.widgetRefs({ table, filter: null }),
        })
      : h(StudyTable, {
          key: 'studies',
          id: `${side}-table`,
          rows: state.rows,
          t,
          language: props.language,
          onSelectionChange: (selectedUids) => update({ selectedUids }),
          onActivate: props.onOpenStudy,
          tableRef: (table) => props.widgetRefs({ table, filter: filterRef.current }),
        }),
    h(
      Text,
      { id: `${side}-selection` },
      state.kind === 'ssh'
        ? t('panel.items', { count: state.remoteRows.length, selected: state.selectedPaths.length })
        : t('panel.studies', { count: state.rows.length, selected: state.selectedUids.length }),
    ),
  );
}
