// Original file: api/agent/agent.proto

import type { ContainerStats as _bulkhead_agent_v1_ContainerStats, ContainerStats__Output as _bulkhead_agent_v1_ContainerStats__Output } from '../../../bulkhead/agent/v1/ContainerStats.js';

export interface StatsResponse {
  'stats'?: (_bulkhead_agent_v1_ContainerStats)[];
}

export interface StatsResponse__Output {
  'stats': (_bulkhead_agent_v1_ContainerStats__Output)[];
}
