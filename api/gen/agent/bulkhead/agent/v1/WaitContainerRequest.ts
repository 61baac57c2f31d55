// Original file: api/agent/agent.proto


export interface WaitContainerRequest {
  'container_id'?: (string);
}

export interface WaitContainerRequest__Output {
  'container_id': (string);
}
