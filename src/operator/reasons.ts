/**
 * Condition types and reasons, the one list of them. Reasons are CamelCase (KEP-1623) and part
 * of the contract: people and tools branch on them, so they never change once released.
 */
export const ConditionType = {
  Ready: 'Ready',
  TopologyReady: 'TopologyReady',
  WorkersAvailable: 'WorkersAvailable',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const Reason = {
  // Ready / TopologyReady
  Ready: 'Ready',
  TopologyApplied: 'TopologyApplied',
  InvalidSpec: 'InvalidSpec',
  SecretNotFound: 'SecretNotFound',
  SecretKeyMissing: 'SecretKeyMissing',
  BrokerUnavailable: 'BrokerUnavailable',
  TopologyConflict: 'TopologyConflict',
  ExchangeNotFound: 'ExchangeNotFound',
  TopologyFailed: 'TopologyFailed',
  Pending: 'Pending',
  // deletion
  Deleting: 'Deleting',
  QueuesNotEmpty: 'QueuesNotEmpty',
  // WorkersAvailable
  WorkersAvailable: 'WorkersAvailable',
  WorkersUnavailable: 'WorkersUnavailable',
  ScaledToZero: 'ScaledToZero',
  WorkersFailed: 'WorkersFailed',
  // Events only
  RungDrained: 'RungDrained',
  QueuesDeleted: 'QueuesDeleted',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
