// Original file: api/agent/agent.proto


export interface PortForwardRequest {
  'port'?: (number);
}

export interface PortForwardRequest__Output {
  'port': (number);
}
