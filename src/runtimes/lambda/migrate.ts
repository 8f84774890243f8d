// First: instruments the AWS SDK clients (X-Ray).
import { traced } from './invocation.ts';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { migrateDatabase } from '../../cli/commands/migrate.ts';
import { createLogger } from '../../observability/logger.ts';
import { lambdaConfig } from './aws-config.ts';

/**
 * AWS Lambda entry point "migrate": the `onEvent` handler of a CloudFormation
 * custom resource (aws-cdk-lib `custom-resources` Provider framework), run on
 * every deploy. Create and Update run the same code as `kidslearn migrate`
 * (cli/commands/migrate.ts): create the database when missing, then apply
 * pending control and tenant migrations under the advisory lock, so a rerun
 * applies nothing. Delete does nothing (the data outlives the stack). A
 * failure throws, and the Provider framework fails the deployment with its
 * message.
 */
const config = await lambdaConfig();
const logger = createLogger({ level: config.logLevel });

/** What the Provider framework expects back from `onEvent`. */
export interface MigrateResult {
  PhysicalResourceId: string;
  /** Strings only (`Fn::GetAtt` reads them); the total stays far below CloudFormation's 4 KB. */
  Data: { Applied: string; ControlVersion: string; TenantVersion: string; Apps: string; Versions: string };
}

/** One id for the resource across updates: a changed id would make CloudFormation delete the "old" one. */
const PHYSICAL_ID = 'kidslearn-migrations';

/** Runs one custom-resource event. */
async function onEvent(event: CloudFormationCustomResourceEvent): Promise<MigrateResult> {
  const physicalId = event.RequestType === 'Create' ? PHYSICAL_ID : event.PhysicalResourceId;
  if (event.RequestType === 'Delete') {
    logger.info({ requestType: event.RequestType }, 'migrate: nothing to do on delete');
    return { PhysicalResourceId: physicalId, Data: { Applied: '0', ControlVersion: '', TenantVersion: '', Apps: '', Versions: '' } };
  }
  const run = await migrateDatabase(config);
  const tenants = Object.entries(run.versions).filter(([scope]) => scope.startsWith('app:'));
  const tenantVersions = [...new Set(tenants.map(([, v]) => v))];
  const versions = JSON.stringify(run.versions);
  logger.info({ requestType: event.RequestType, createdDatabase: run.createdDatabase, applied: run.applied, versions: run.versions }, `migrate: applied ${run.applied.length} migrations`);
  return {
    PhysicalResourceId: physicalId,
    Data: {
      Applied: String(run.applied.length),
      ControlVersion: String(run.versions.control ?? ''),
      // One number when every app is at the same version (the normal case), otherwise the lowest.
      TenantVersion: tenantVersions.length ? String(Math.min(...tenantVersions)) : '',
      Apps: String(tenants.length),
      Versions: versions.length <= 2048 ? versions : `${tenants.length} apps (see the function's log)`,
    },
  };
}

/** The Lambda handler (`onEvent`): traced, its log lines written out before the process freezes. */
export const handler = traced('migrate', onEvent, { logger });
