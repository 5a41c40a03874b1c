/**
 * A registered agent (§9) as stored: its risk profile plus who registered it, per tenant. The
 * profile shape itself is the engine's `AgentProfile` (request.ts).
 */
import type { AgentProfile } from './request.js';

export interface AgentRecord {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly profile: AgentProfile;
  readonly updated_at: string;
  readonly updated_by: string;
}
