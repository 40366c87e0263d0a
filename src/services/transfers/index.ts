/** Transfers of instances between the local archive and remote nodes. */

export * from './report';
export { planSendBatches, sendInstances } from './send';
export type { DecompressedInstances, SendOptions, SendProgress, SendReport } from './send';
export { AnonymizingTransform } from './anonymize';
export type { AnonymizingTransformOptions, InstanceTransform, PseudonymEntry, TransformResult } from './anonymize';
