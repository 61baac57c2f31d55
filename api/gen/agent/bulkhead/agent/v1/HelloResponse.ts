// Original file: api/agent/agent.proto


export interface HelloResponse {
  'nonce'?: (string);
  'agent_version'?: (string);
  'window'?: (number);
  'features'?: (string)[];
}

export interface HelloResponse__Output {
  'nonce': (string);
  'agent_version': (string);
  'window': (number);
  'features': (string)[];
}
