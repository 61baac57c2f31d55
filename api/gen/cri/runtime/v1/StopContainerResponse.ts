// Original file: api/cri/api.proto


export interface StopContainerResponse {
}

export interface StopContainerResponse__Output {
}
