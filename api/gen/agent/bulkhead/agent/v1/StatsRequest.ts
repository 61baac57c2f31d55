// Original file: api/agent/agent.proto


export interface StatsRequest {
  'container_ids'?: (string)[];
}

export interface StatsRequest__Output {
  'container_ids': (string)[];
}
