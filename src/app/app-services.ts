/** The use cases the gateway offers: what the HTTP layer serves and the composition root builds. */
import type { AgentService } from './agents.js';
import type { ApprovalService } from './approvals.js';
import type { AuditService } from './audit.js';
import type { GovernanceChecklist } from './checklist.js';
import type { DeadLetterService } from './dead-letters.js';
import type { JobService } from './jobs.js';
import type { KeyService } from './keys.js';
import type { PolicyService } from './policy.js';
import type { WorkService } from './work.js';

export interface AppServices {
  readonly jobs: JobService;
  readonly approvals: ApprovalService;
  readonly audit: AuditService;
  readonly keys: KeyService;
  readonly policy: PolicyService;
  readonly agents: AgentService;
  readonly work: WorkService;
  readonly deadLetters: DeadLetterService;
  readonly checklist: GovernanceChecklist;
}
