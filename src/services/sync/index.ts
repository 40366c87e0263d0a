/** Synchronization of two DICOM nodes, or a node and the local archive, over the migration job engine. */

export * from './compare';
export { EndpointInventory } from './inventory';
export type { InventoryOptions, SeriesOnEndpoint, StudyOnEndpoint } from './inventory';
export * from './schedule';
export * from './sync';
