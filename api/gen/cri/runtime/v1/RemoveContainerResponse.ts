// Original file: api/cri/api.proto


export interface RemoveContainerResponse {
}

export interface RemoveContainerResponse__Output {
}
