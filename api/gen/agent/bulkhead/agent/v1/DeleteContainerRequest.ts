// Original file: api/agent/agent.proto


export interface DeleteContainerRequest {
  'container_id'?: (string);
}

export interface DeleteContainerRequest__Output {
  'container_id': (string);
}
