// Original file: api/agent/agent.proto


export interface ExecProcessResponse {
  'exec_id'?: (string);
  'pid'?: (number);
}

export interface ExecProcessResponse__Output {
  'exec_id': (string);
  'pid': (number);
}
