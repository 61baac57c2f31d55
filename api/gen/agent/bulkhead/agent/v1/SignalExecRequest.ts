// Original file: api/agent/agent.proto


export interface SignalExecRequest {
  'exec_id'?: (string);
  'signal'?: (number);
}

export interface SignalExecRequest__Output {
  'exec_id': (string);
  'signal': (number);
}
