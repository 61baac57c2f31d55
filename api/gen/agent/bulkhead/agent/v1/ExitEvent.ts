// Original file: api/agent/agent.proto

import type { ExitStatus as _bulkhead_agent_v1_ExitStatus, ExitStatus__Output as _bulkhead_agent_v1_ExitStatus__Output } from '../../../bulkhead/agent/v1/ExitStatus.js';

export interface ExitEvent {
  'container_id'?: (string);
  'exec_id'?: (string);
  'status'?: (_bulkhead_agent_v1_ExitStatus | null);
}

export interface ExitEvent__Output {
  'container_id': (string);
  'exec_id': (string);
  'status': (_bulkhead_agent_v1_ExitStatus__Output | null);
}
