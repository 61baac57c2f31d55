// CRI-O's files for the bench, all under its temp dir: crio.conf with every host-wide default path
// moved there, registries.conf mirroring the public registries to the loopback one, a policy.json
// that accepts unsigned images, and the runc wrapper this host needs.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTRY, MIRRORED, type BenchEnv } from '../env.js';

export const CRIO_PAUSE = 'registry.k8s.io/pause:3.10';

/**
 * Root lacks CAP_SYS_RESOURCE here, so runc fails to write a negative oom_score_adj ("can't get
 * final child's PID from pipe: EOF"). CRI-O asks -998 for an infra container and has no
 * restrict_oom_score_adj like containerd: the wrapper clamps negative values to 0 in the bundle's
 * config.json on create/run, then execs runc. Costs CRI-O one bash start per runc call (~2 ms).
 */
const RUNC_WRAPPER = `#!/bin/bash
set -euo pipefail
bundle=
prev=
is_create=
for a in "$@"; do
  case $prev in --bundle|-b) bundle=$a ;; esac
  case $a in --bundle=*) bundle=\${a#--bundle=} ;; create|run) is_create=1 ;; esac
  prev=$a
done
if [ -n "$is_create" ] && [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  sed -i -E 's/"oomScoreAdj": ?-[0-9]+/"oomScoreAdj":0/' "$bundle/config.json"
fi
exec /usr/sbin/runc "$@"
`;

export interface CrioFiles {
  config: string;
  configDir: string;
  registriesConf: string;
}

export function writeCrioFiles(base: string, env: BenchEnv, pinns: string, logLevel: string): CrioFiles {
  const wrapper = join(base, 'runc-clamp-oom');
  writeFileSync(wrapper, RUNC_WRAPPER);
  chmodSync(wrapper, 0o755);

  const policy = join(base, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }) + '\n');

  const registriesConf = join(base, 'registries.conf');
  const mirrors = MIRRORED.map(
    (host) => `[[registry]]\nprefix = "${host}"\nlocation = "${host}"\n\n[[registry.mirror]]\nlocation = "${REGISTRY}"\ninsecure = true\n`,
  );
  writeFileSync(
    registriesConf,
    `unqualified-search-registries = ["docker.io"]\n\n[[registry]]\nlocation = "${REGISTRY}"\ninsecure = true\n\n${mirrors.join('\n')}`,
  );

  const configDir = join(base, 'crio.conf.d');
  const config = join(base, 'crio.conf');
  writeFileSync(
    config,
    `[crio]
root = "${base}/storage"
runroot = "${base}/run"
storage_driver = "overlay"
log_dir = "${base}/pod-logs"
version_file = "${base}/version"
version_file_persist = "${base}/version-persist"
clean_shutdown_file = "${base}/clean.shutdown"

[crio.api]
listen = "${base}/crio.sock"
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
log_level = "${logLevel}"
container_exits_dir = "${base}/exits"
container_attach_socket_dir = "${base}/attach"
namespaces_dir = "${base}/ns"
pinns_path = "${pinns}"
hooks_dir = []
irqbalance_config_file = ""
irqbalance_config_restore_file = "disable"

[crio.runtime.runtimes.runc]
runtime_path = "${wrapper}"
runtime_type = "oci"
runtime_root = "${base}/runc"
monitor_path = "/usr/bin/conmon"
monitor_cgroup = "pod"

[crio.image]
pause_image = "${CRIO_PAUSE}"
signature_policy = "${policy}"

[crio.network]
network_dir = "${env.cniConfDir}"
plugin_dirs = ["${env.cniBinDir}"]

# NRI listens on the host-wide /var/run/nri/nri.sock: another daemon's, not the bench's.
[crio.nri]
enable_nri = false

[crio.metrics]
enable_metrics = false
`,
  );
  return { config, configDir, registriesConf };
}
