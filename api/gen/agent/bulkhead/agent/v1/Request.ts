// Original file: api/agent/agent.proto

import type { HelloRequest as _bulkhead_agent_v1_HelloRequest, HelloRequest__Output as _bulkhead_agent_v1_HelloRequest__Output } from '../../../bulkhead/agent/v1/HelloRequest.js';
import type { PingRequest as _bulkhead_agent_v1_PingRequest, PingRequest__Output as _bulkhead_agent_v1_PingRequest__Output } from '../../../bulkhead/agent/v1/PingRequest.js';
import type { SetupSandboxRequest as _bulkhead_agent_v1_SetupSandboxRequest, SetupSandboxRequest__Output as _bulkhead_agent_v1_SetupSandboxRequest__Output } from '../../../bulkhead/agent/v1/SetupSandboxRequest.js';
import type { CreateContainerRequest as _bulkhead_agent_v1_CreateContainerRequest, CreateContainerRequest__Output as _bulkhead_agent_v1_CreateContainerRequest__Output } from '../../../bulkhead/agent/v1/CreateContainerRequest.js';
import type { StartContainerRequest as _bulkhead_agent_v1_StartContainerRequest, StartContainerRequest__Output as _bulkhead_agent_v1_StartContainerRequest__Output } from '../../../bulkhead/agent/v1/StartContainerRequest.js';
import type { SignalContainerRequest as _bulkhead_agent_v1_SignalContainerRequest, SignalContainerRequest__Output as _bulkhead_agent_v1_SignalContainerRequest__Output } from '../../../bulkhead/agent/v1/SignalContainerRequest.js';
import type { WaitContainerRequest as _bulkhead_agent_v1_WaitContainerRequest, WaitContainerRequest__Output as _bulkhead_agent_v1_WaitContainerRequest__Output } from '../../../bulkhead/agent/v1/WaitContainerRequest.js';
import type { DeleteContainerRequest as _bulkhead_agent_v1_DeleteContainerRequest, DeleteContainerRequest__Output as _bulkhead_agent_v1_DeleteContainerRequest__Output } from '../../../bulkhead/agent/v1/DeleteContainerRequest.js';
import type { ExecProcessRequest as _bulkhead_agent_v1_ExecProcessRequest, ExecProcessRequest__Output as _bulkhead_agent_v1_ExecProcessRequest__Output } from '../../../bulkhead/agent/v1/ExecProcessRequest.js';
import type { ResizeRequest as _bulkhead_agent_v1_ResizeRequest, ResizeRequest__Output as _bulkhead_agent_v1_ResizeRequest__Output } from '../../../bulkhead/agent/v1/ResizeRequest.js';
import type { StatsRequest as _bulkhead_agent_v1_StatsRequest, StatsRequest__Output as _bulkhead_agent_v1_StatsRequest__Output } from '../../../bulkhead/agent/v1/StatsRequest.js';
import type { UpdateResourcesRequest as _bulkhead_agent_v1_UpdateResourcesRequest, UpdateResourcesRequest__Output as _bulkhead_agent_v1_UpdateResourcesRequest__Output } from '../../../bulkhead/agent/v1/UpdateResourcesRequest.js';
import type { FollowLogsRequest as _bulkhead_agent_v1_FollowLogsRequest, FollowLogsRequest__Output as _bulkhead_agent_v1_FollowLogsRequest__Output } from '../../../bulkhead/agent/v1/FollowLogsRequest.js';
import type { ShutdownRequest as _bulkhead_agent_v1_ShutdownRequest, ShutdownRequest__Output as _bulkhead_agent_v1_ShutdownRequest__Output } from '../../../bulkhead/agent/v1/ShutdownRequest.js';
import type { ListContainersRequest as _bulkhead_agent_v1_ListContainersRequest, ListContainersRequest__Output as _bulkhead_agent_v1_ListContainersRequest__Output } from '../../../bulkhead/agent/v1/ListContainersRequest.js';
import type { PortForwardRequest as _bulkhead_agent_v1_PortForwardRequest, PortForwardRequest__Output as _bulkhead_agent_v1_PortForwardRequest__Output } from '../../../bulkhead/agent/v1/PortForwardRequest.js';
import type { SignalExecRequest as _bulkhead_agent_v1_SignalExecRequest, SignalExecRequest__Output as _bulkhead_agent_v1_SignalExecRequest__Output } from '../../../bulkhead/agent/v1/SignalExecRequest.js';
import type { AttachRequest as _bulkhead_agent_v1_AttachRequest, AttachRequest__Output as _bulkhead_agent_v1_AttachRequest__Output } from '../../../bulkhead/agent/v1/AttachRequest.js';
import type { ReseedRandomRequest as _bulkhead_agent_v1_ReseedRandomRequest, ReseedRandomRequest__Output as _bulkhead_agent_v1_ReseedRandomRequest__Output } from '../../../bulkhead/agent/v1/ReseedRandomRequest.js';
import type { SetGuestTimeRequest as _bulkhead_agent_v1_SetGuestTimeRequest, SetGuestTimeRequest__Output as _bulkhead_agent_v1_SetGuestTimeRequest__Output } from '../../../bulkhead/agent/v1/SetGuestTimeRequest.js';
import type { WarmUpRequest as _bulkhead_agent_v1_WarmUpRequest, WarmUpRequest__Output as _bulkhead_agent_v1_WarmUpRequest__Output } from '../../../bulkhead/agent/v1/WarmUpRequest.js';

export interface Request {
  'hello'?: (_bulkhead_agent_v1_HelloRequest | null);
  'ping'?: (_bulkhead_agent_v1_PingRequest | null);
  'setup_sandbox'?: (_bulkhead_agent_v1_SetupSandboxRequest | null);
  'create_container'?: (_bulkhead_agent_v1_CreateContainerRequest | null);
  'start_container'?: (_bulkhead_agent_v1_StartContainerRequest | null);
  'signal_container'?: (_bulkhead_agent_v1_SignalContainerRequest | null);
  'wait_container'?: (_bulkhead_agent_v1_WaitContainerRequest | null);
  'delete_container'?: (_bulkhead_agent_v1_DeleteContainerRequest | null);
  'exec_process'?: (_bulkhead_agent_v1_ExecProcessRequest | null);
  'resize'?: (_bulkhead_agent_v1_ResizeRequest | null);
  'stats'?: (_bulkhead_agent_v1_StatsRequest | null);
  'update_resources'?: (_bulkhead_agent_v1_UpdateResourcesRequest | null);
  'follow_logs'?: (_bulkhead_agent_v1_FollowLogsRequest | null);
  'shutdown'?: (_bulkhead_agent_v1_ShutdownRequest | null);
  'list_containers'?: (_bulkhead_agent_v1_ListContainersRequest | null);
  'port_forward'?: (_bulkhead_agent_v1_PortForwardRequest | null);
  'signal_exec'?: (_bulkhead_agent_v1_SignalExecRequest | null);
  'attach'?: (_bulkhead_agent_v1_AttachRequest | null);
  'reseed_random'?: (_bulkhead_agent_v1_ReseedRandomRequest | null);
  'set_guest_time'?: (_bulkhead_agent_v1_SetGuestTimeRequest | null);
  'warm_up'?: (_bulkhead_agent_v1_WarmUpRequest | null);
  'req'?: "hello"|"ping"|"setup_sandbox"|"create_container"|"start_container"|"signal_container"|"wait_container"|"delete_container"|"exec_process"|"resize"|"stats"|"update_resources"|"follow_logs"|"shutdown"|"list_containers"|"port_forward"|"signal_exec"|"attach"|"reseed_random"|"set_guest_time"|"warm_up";
}

export interface Request__Output {
  'hello'?: (_bulkhead_agent_v1_HelloRequest__Output | null);
  'ping'?: (_bulkhead_agent_v1_PingRequest__Output | null);
  'setup_sandbox'?: (_bulkhead_agent_v1_SetupSandboxRequest__Output | null);
  'create_container'?: (_bulkhead_agent_v1_CreateContainerRequest__Output | null);
  'start_container'?: (_bulkhead_agent_v1_StartContainerRequest__Output | null);
  'signal_container'?: (_bulkhead_agent_v1_SignalContainerRequest__Output | null);
  'wait_container'?: (_bulkhead_agent_v1_WaitContainerRequest__Output | null);
  'delete_container'?: (_bulkhead_agent_v1_DeleteContainerRequest__Output | null);
  'exec_process'?: (_bulkhead_agent_v1_ExecProcessRequest__Output | null);
  'resize'?: (_bulkhead_agent_v1_ResizeRequest__Output | null);
  'stats'?: (_bulkhead_agent_v1_StatsRequest__Output | null);
  'update_resources'?: (_bulkhead_agent_v1_UpdateResourcesRequest__Output | null);
  'follow_logs'?: (_bulkhead_agent_v1_FollowLogsRequest__Output | null);
  'shutdown'?: (_bulkhead_agent_v1_ShutdownRequest__Output | null);
  'list_containers'?: (_bulkhead_agent_v1_ListContainersRequest__Output | null);
  'port_forward'?: (_bulkhead_agent_v1_PortForwardRequest__Output | null);
  'signal_exec'?: (_bulkhead_agent_v1_SignalExecRequest__Output | null);
  'attach'?: (_bulkhead_agent_v1_AttachRequest__Output | null);
  'reseed_random'?: (_bulkhead_agent_v1_ReseedRandomRequest__Output | null);
  'set_guest_time'?: (_bulkhead_agent_v1_SetGuestTimeRequest__Output | null);
  'warm_up'?: (_bulkhead_agent_v1_WarmUpRequest__Output | null);
  'req'?: "hello"|"ping"|"setup_sandbox"|"create_container"|"start_container"|"signal_container"|"wait_container"|"delete_container"|"exec_process"|"resize"|"stats"|"update_resources"|"follow_logs"|"shutdown"|"list_containers"|"port_forward"|"signal_exec"|"attach"|"reseed_random"|"set_guest_time"|"warm_up";
}
