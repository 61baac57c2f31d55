// Original file: api/agent/agent.proto

import type { HelloResponse as _bulkhead_agent_v1_HelloResponse, HelloResponse__Output as _bulkhead_agent_v1_HelloResponse__Output } from '../../../bulkhead/agent/v1/HelloResponse.js';
import type { PingResponse as _bulkhead_agent_v1_PingResponse, PingResponse__Output as _bulkhead_agent_v1_PingResponse__Output } from '../../../bulkhead/agent/v1/PingResponse.js';
import type { Empty as _bulkhead_agent_v1_Empty, Empty__Output as _bulkhead_agent_v1_Empty__Output } from '../../../bulkhead/agent/v1/Empty.js';
import type { StartContainerResponse as _bulkhead_agent_v1_StartContainerResponse, StartContainerResponse__Output as _bulkhead_agent_v1_StartContainerResponse__Output } from '../../../bulkhead/agent/v1/StartContainerResponse.js';
import type { ExitStatus as _bulkhead_agent_v1_ExitStatus, ExitStatus__Output as _bulkhead_agent_v1_ExitStatus__Output } from '../../../bulkhead/agent/v1/ExitStatus.js';
import type { ExecProcessResponse as _bulkhead_agent_v1_ExecProcessResponse, ExecProcessResponse__Output as _bulkhead_agent_v1_ExecProcessResponse__Output } from '../../../bulkhead/agent/v1/ExecProcessResponse.js';
import type { StatsResponse as _bulkhead_agent_v1_StatsResponse, StatsResponse__Output as _bulkhead_agent_v1_StatsResponse__Output } from '../../../bulkhead/agent/v1/StatsResponse.js';
import type { ListContainersResponse as _bulkhead_agent_v1_ListContainersResponse, ListContainersResponse__Output as _bulkhead_agent_v1_ListContainersResponse__Output } from '../../../bulkhead/agent/v1/ListContainersResponse.js';

export interface Response {
  'error'?: (string);
  'code'?: (number);
  'hello'?: (_bulkhead_agent_v1_HelloResponse | null);
  'ping'?: (_bulkhead_agent_v1_PingResponse | null);
  'empty'?: (_bulkhead_agent_v1_Empty | null);
  'start_container'?: (_bulkhead_agent_v1_StartContainerResponse | null);
  'wait_container'?: (_bulkhead_agent_v1_ExitStatus | null);
  'exec_process'?: (_bulkhead_agent_v1_ExecProcessResponse | null);
  'stats'?: (_bulkhead_agent_v1_StatsResponse | null);
  'list_containers'?: (_bulkhead_agent_v1_ListContainersResponse | null);
  'resp'?: "hello"|"ping"|"empty"|"start_container"|"wait_container"|"exec_process"|"stats"|"list_containers";
}

export interface Response__Output {
  'error': (string);
  'code': (number);
  'hello'?: (_bulkhead_agent_v1_HelloResponse__Output | null);
  'ping'?: (_bulkhead_agent_v1_PingResponse__Output | null);
  'empty'?: (_bulkhead_agent_v1_Empty__Output | null);
  'start_container'?: (_bulkhead_agent_v1_StartContainerResponse__Output | null);
  'wait_container'?: (_bulkhead_agent_v1_ExitStatus__Output | null);
  'exec_process'?: (_bulkhead_agent_v1_ExecProcessResponse__Output | null);
  'stats'?: (_bulkhead_agent_v1_StatsResponse__Output | null);
  'list_containers'?: (_bulkhead_agent_v1_ListContainersResponse__Output | null);
  'resp'?: "hello"|"ping"|"empty"|"start_container"|"wait_container"|"exec_process"|"stats"|"list_containers";
}
