// containerd CRI configs for the bench: 1.6 (config version 2, one "io.containerd.grpc.v1.cri"
// plugin) and 2.x (config version 3, the CRI plugin split into io.containerd.cri.v1.runtime and
// io.containerd.cri.v1.images). Both: the bench CNI network, registry mirrors through hosts.toml
// (config_path), runc v2 shim with cgroupfs, and restrict_oom_score_adj because root lacks
// CAP_SYS_RESOURCE here (a negative oom_score_adj makes runc fail sandbox start).
import type { BenchEnv } from '../env.js';

export const PAUSE_16 = 'registry.k8s.io/pause:3.6';
/** containerd 2.x's own default (pinned_images.sandbox). */
export const PAUSE_2 = 'registry.k8s.io/pause:3.10';

const head = (version: number, base: string) => `version = ${version}
root = "${base}/root"
state = "${base}/state"

[grpc]
  address = "${base}/containerd.sock"

[ttrpc]
  address = "${base}/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""
`;

export function containerd16Config(base: string, env: BenchEnv): string {
  return `${head(2, base)}
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_16}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${env.cniBinDir}"
    conf_dir = "${env.cniConfDir}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${env.certsDir}"
`;
}

export function containerd2Config(base: string, env: BenchEnv): string {
  return `${head(3, base)}
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["${env.cniBinDir}"]
    conf_dir = "${env.cniConfDir}"
    max_conf_num = 1
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        SystemdCgroup = false

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "${PAUSE_2}"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "${env.certsDir}"

# NRI listens on the host-wide /var/run/nri/nri.sock: another daemon's, not the bench's.
[plugins."io.containerd.nri.v1.nri"]
  disable = true
`;
}
