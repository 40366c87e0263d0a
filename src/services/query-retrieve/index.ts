/** Query/retrieve client (SCU): C-ECHO, C-FIND, C-GET and C-MOVE against remote nodes. */

export * from './remote-node';
export * from './study-filters';
export { decodeResponseIdentifier, encodeRequestIdentifier } from './identifiers';
export type { DecodedIdentifier, QueryLevel, RequestKey } from './identifiers';
export { FindIncompleteError, FindNotSupportedError, FindSession, shortInstanceListError } from './find-session';
export * from './find';
export { ArchiveReceiver } from './archive-receiver';
export type { StudyCounters } from './archive-receiver';
export { planGetContexts, MAX_PRESENTATION_CONTEXTS } from './storage-contexts';
export * from './retrieve';
export { isMissedDeliveryNote } from './move-deliveries';
export type { MissedDelivery } from './move-deliveries';
export * from './statuses';
