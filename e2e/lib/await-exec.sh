# await_exec PID: returns once the background child PID has exec'd its program (or died).
# Right after `cmd &` the child is still a fork of this shell, so a liveness check that matches
# /proc/PID/cmdline would call a process that is merely starting dead (a race that failed CI).
await_exec() {
  local pid=$1 self i
  self=$(readlink "/proc/$$/exe")
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$self" ] || return 0
    sleep 0.05
  done
}
