// Original file: api/agent/agent.proto


export interface Empty {
}

export interface Empty__Output {
}
