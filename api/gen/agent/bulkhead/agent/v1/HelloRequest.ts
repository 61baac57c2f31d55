// Original file: api/agent/agent.proto


export interface HelloRequest {
  'nonce'?: (string);
  'window'?: (number);
}

export interface HelloRequest__Output {
  'nonce': (string);
  'window': (number);
}
