// Original file: api/agent/agent.proto

import type { ContainerInfo as _bulkhead_agent_v1_ContainerInfo, ContainerInfo__Output as _bulkhead_agent_v1_ContainerInfo__Output } from '../../../bulkhead/agent/v1/ContainerInfo.js';

export interface ListContainersResponse {
  'containers'?: (_bulkhead_agent_v1_ContainerInfo)[];
}

export interface ListContainersResponse__Output {
  'containers': (_bulkhead_agent_v1_ContainerInfo__Output)[];
}
