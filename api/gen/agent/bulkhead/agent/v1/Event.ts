// Original file: api/agent/agent.proto

import type { OomEvent as _bulkhead_agent_v1_OomEvent, OomEvent__Output as _bulkhead_agent_v1_OomEvent__Output } from '../../../bulkhead/agent/v1/OomEvent.js';
import type { ExitEvent as _bulkhead_agent_v1_ExitEvent, ExitEvent__Output as _bulkhead_agent_v1_ExitEvent__Output } from '../../../bulkhead/agent/v1/ExitEvent.js';

export interface Event {
  'oom'?: (_bulkhead_agent_v1_OomEvent | null);
  'exit'?: (_bulkhead_agent_v1_ExitEvent | null);
  'ev'?: "oom"|"exit";
}

export interface Event__Output {
  'oom'?: (_bulkhead_agent_v1_OomEvent__Output | null);
  'exit'?: (_bulkhead_agent_v1_ExitEvent__Output | null);
  'ev'?: "oom"|"exit";
}
