// Original file: api/agent/agent.proto

import type { LinuxResources as _bulkhead_agent_v1_LinuxResources, LinuxResources__Output as _bulkhead_agent_v1_LinuxResources__Output } from '../../../bulkhead/agent/v1/LinuxResources.js';

export interface UpdateResourcesRequest {
  'container_id'?: (string);
  'resources'?: (_bulkhead_agent_v1_LinuxResources | null);
}

export interface UpdateResourcesRequest__Output {
  'container_id': (string);
  'resources': (_bulkhead_agent_v1_LinuxResources__Output | null);
}
