/**
 * What the service stacks (analytics, API, engine) read from the per-environment
 * configuration. A temporary home until A1's `EnvConfig` (infra/lib/config.ts)
 * is merged; then `EnvConfig` carries these fields and the stacks take it.
 */

/** The three environments, chosen with `--context env=<name>`. */
export type EnvName = 'dev' | 'staging' | 'prod';

/** The fields the service stacks need, per environment. */
export interface ServicesConfig {
  envName: EnvName;
  /** Days CloudWatch keeps the logs of every function and task. */
  logRetentionDays: number;
  /** Retain buckets and queues' data on stack deletion (prod). */
  deletionProtection: boolean;
  /** Where alarms are mailed (SNS email subscription); none: the topic has no subscriber until one is added. */
  alarmEmail?: string | undefined;
  lake: {
    /** Days after which lake files move to S3 Standard-IA. */
    transitionToInfrequentAccessDays: number;
    /** Days after which lake files are deleted; undefined keeps them. */
    expirationDays?: number | undefined;
    /**
     * Days a deleted or overwritten lake file's old version is kept. Erasure
     * and compaction delete files, so this bounds how long an erased child's
     * events survive in old versions.
     */
    noncurrentVersionExpirationDays: number;
    /** Days Athena query results are kept. */
    athenaResultsExpirationDays: number;
    /** Athena's per-query limit on bytes scanned (the workgroup enforces it). */
    athenaBytesScannedCutoffPerQuery: number;
  };
  queues: {
    /** Days a message is kept in the events and jobs queues. */
    retentionDays: number;
    /** Receives before a message goes to its dead-letter queue (≥ 5). */
    maxReceiveCount: number;
  };
}

/** Per-environment values (until A1's config.ts carries them). */
export const SERVICES_CONFIG: Readonly<Record<EnvName, ServicesConfig>> = {
  dev: {
    envName: 'dev',
    logRetentionDays: 14,
    deletionProtection: false,
    lake: { transitionToInfrequentAccessDays: 30, expirationDays: 90, noncurrentVersionExpirationDays: 7, athenaResultsExpirationDays: 7, athenaBytesScannedCutoffPerQuery: 1_000_000_000 },
    queues: { retentionDays: 4, maxReceiveCount: 5 },
  },
  staging: {
    envName: 'staging',
    logRetentionDays: 30,
    deletionProtection: false,
    lake: { transitionToInfrequentAccessDays: 30, expirationDays: 180, noncurrentVersionExpirationDays: 7, athenaResultsExpirationDays: 14, athenaBytesScannedCutoffPerQuery: 10_000_000_000 },
    queues: { retentionDays: 4, maxReceiveCount: 5 },
  },
  prod: {
    envName: 'prod',
    logRetentionDays: 90,
    deletionProtection: true,
    lake: { transitionToInfrequentAccessDays: 90, expirationDays: 1095, noncurrentVersionExpirationDays: 7, athenaResultsExpirationDays: 30, athenaBytesScannedCutoffPerQuery: 100_000_000_000 },
    queues: { retentionDays: 14, maxReceiveCount: 5 },
  },
};
