/**
 * Reads what one end of a sync holds, level by level: studies with their
 * instance counts, the series of one study with theirs, and the SOP Instance
 * UIDs of one series. A node is queried by C-FIND on one association, and the
 * local archive is read from its index.
 */
import { FindSession, findInstancesOn, findSeriesOn, findStudies } from '../query-retrieve';
import type { LocalIdentity, QueryNotice, StudyFilters } from '../query-retrieve';
import { explainQueryRejection, searchArchiveStudies, studyFiltersOf } from '../migration';
import type { Endpoint, JobSelection } from '../migration';

export interface StudyOnEndpoint {
  studyInstanceUid: string;
  patientId: string;
  patientName: string;
  /** YYYYMMDD, or '' when the node did not return it. */
  studyDate: string;
  /** Number of Study Related Instances; undefined when the node does not return it. */
  instances?: number;
}

export interface SeriesOnEndpoint {
  seriesInstanceUid: string;
  /** Number of Series Related Instances; undefined when the node does not return it. */
  instances?: number;
}

export interface InventoryOptions {
  signal?: AbortSignal;
  onNotice?: (notice: QueryNotice) => void;
}

/** Queries of one endpoint; call close() to release the C-FIND association of a node. */
export class EndpointInventory {
  private session?: FindSession;

  constructor(
    readonly endpoint: Endpoint,
    private readonly local: LocalIdentity,
    private readonly options: InventoryOptions = {},
  ) {}

  /** Lists the studies that match the selection, by Study Instance UID; a selection of all studies uses universal matching. */
  async listStudies(selection: JobSelection): Promise<Map<string, StudyOnEndpoint>> {
    const studies = new Map<string, StudyOnEndpoint>();
    if (this.endpoint.kind === 'local') {
      for (const study of searchArchiveStudies(this.endpoint.archive, selection)) {
        studies.set(study.studyInstanceUid, {
          studyInstanceUid: study.studyInstanceUid,
          patientId: study.patientId,
          patientName: study.patientName,
          studyDate: study.studyDate,
          instances: study.numberOfInstances,
        });
      }
      return studies;
    }

    const filters: StudyFilters = studyFiltersOf(selection);
    const matches = findStudies(this.endpoint.node, this.local, filters, { signal: this.options.signal, onNotice: this.options.onNotice });
    try {
      for await (const match of matches) {
        studies.set(match.studyInstanceUid, {
          studyInstanceUid: match.studyInstanceUid,
          patientId: match.patientId,
          patientName: match.patientName,
          studyDate: match.studyDate,
          instances: match.numberOfStudyRelatedInstances,
        });
      }
    } catch (error) {
      throw explainQueryRejection(this.endpoint, error);
    }
    return studies;
  }

  /** Lists the series of a study, by Series Instance UID. */
  async listSeries(studyInstanceUid: string): Promise<Map<string, SeriesOnEndpoint>> {
    const series = new Map<string, SeriesOnEndpoint>();
    if (this.endpoint.kind === 'local') {
      const keys = [
        { keyword: 'StudyInstanceUID', value: studyInstanceUid },
        { keyword: 'SeriesInstanceUID', value: '' },
        { keyword: 'NumberOfSeriesRelatedInstances', value: '' },
      ];
      for (const record of this.endpoint.archive.query('SERIES', keys, { model: 'STUDY' })) {
        series.set(record.SeriesInstanceUID, { seriesInstanceUid: record.SeriesInstanceUID, instances: Number(record.NumberOfSeriesRelatedInstances) });
      }
      return series;
    }

    const session = await this.openSession();
    for await (const match of findSeriesOn(session, studyInstanceUid, this.options.signal)) {
      if (match.seriesInstanceUid === '') continue;
      series.set(match.seriesInstanceUid, { seriesInstanceUid: match.seriesInstanceUid, instances: match.numberOfSeriesRelatedInstances });
    }
    return series;
  }

  /** Lists the SOP Instance UIDs of one series. */
  async listInstances(studyInstanceUid: string, seriesInstanceUid: string): Promise<string[]> {
    if (this.endpoint.kind === 'local') {
      return this.endpoint.archive.listInstances({ studyInstanceUid, seriesInstanceUid }).map((instance) => instance.sopInstanceUid);
    }
    const session = await this.openSession();
    const uids: string[] = [];
    for await (const match of findInstancesOn(session, studyInstanceUid, seriesInstanceUid, this.options.signal)) {
      if (match.sopInstanceUid !== '') uids.push(match.sopInstanceUid);
    }
    return uids;
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.close();
  }

  private async openSession(): Promise<FindSession> {
    if (this.endpoint.kind !== 'node') throw new Error('the local archive needs no C-FIND association');
    this.session ??= await FindSession.open(this.endpoint.node, this.local);
    return this.session;
  }
}
