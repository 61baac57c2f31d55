// Original file: api/agent/agent.proto

import type { ExitStatus as _bulkhead_agent_v1_ExitStatus, ExitStatus__Output as _bulkhead_agent_v1_ExitStatus__Output } from '../../../bulkhead/agent/v1/ExitStatus.js';

export interface ContainerInfo {
  'container_id'?: (string);
  'state'?: (string);
  'exit'?: (_bulkhead_agent_v1_ExitStatus | null);
  'pid'?: (number);
}

export interface ContainerInfo__Output {
  'container_id': (string);
  'state': (string);
  'exit': (_bulkhead_agent_v1_ExitStatus__Output | null);
  'pid': (number);
}
