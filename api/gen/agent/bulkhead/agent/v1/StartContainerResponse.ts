// Original file: api/agent/agent.proto


export interface StartContainerResponse {
  'pid'?: (number);
}

export interface StartContainerResponse__Output {
  'pid': (number);
}
