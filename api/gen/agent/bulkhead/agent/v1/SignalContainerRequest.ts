// Original file: api/agent/agent.proto


export interface SignalContainerRequest {
  'container_id'?: (string);
  'signal'?: (number);
  'all'?: (boolean);
}

export interface SignalContainerRequest__Output {
  'container_id': (string);
  'signal': (number);
  'all': (boolean);
}
