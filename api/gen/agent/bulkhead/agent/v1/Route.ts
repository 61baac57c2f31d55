// Original file: api/agent/agent.proto


export interface Route {
  'dst'?: (string);
  'gateway'?: (string);
}

export interface Route__Output {
  'dst': (string);
  'gateway': (string);
}
