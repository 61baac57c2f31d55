// Original file: api/cri/api.proto


export interface RemoveImageResponse {
}

export interface RemoveImageResponse__Output {
}
