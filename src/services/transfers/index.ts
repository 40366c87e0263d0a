/** Transfers of instances between the local archive and remote nodes. */

export * from './report';
export { planSendBatches, sendInstances } from './send';
export type { SendOptions, SendProgress } from './send';
