// systemd socket activation (sd_listen_fds(3)): a dynoform-router.socket unit holds the listening
// sockets across restarts of the service, so connections that arrive while the router is being
// replaced wait in the kernel's accept queue instead of being refused. systemd passes the sockets
// as fds 3.. with LISTEN_FDS=n and LISTEN_PID=<our pid> (and LISTEN_FDNAMES, colon separated).
// Names "traffic" / "control" pick the roles; otherwise the first is traffic, the second control.

export interface InheritedListeners {
  traffic?: number;
  control?: number;
}

export const SD_LISTEN_FDS_START = 3;

export function inheritedListeners(env: NodeJS.ProcessEnv, pid: number): InheritedListeners {
  const n = Number(env.LISTEN_FDS ?? "");
  const forUs = env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === pid;
  // Never let the variables leak to the workers (or anything else we start).
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  const names = (env.LISTEN_FDNAMES ?? "").split(":");
  delete env.LISTEN_FDNAMES;
  if (!forUs || !Number.isInteger(n) || n < 1) return {};
  const fds = Array.from({ length: n }, (_, i) => SD_LISTEN_FDS_START + i);
  const out: InheritedListeners = {};
  fds.forEach((fd, i) => {
    if (names[i] === "traffic") out.traffic = fd;
    else if (names[i] === "control") out.control = fd;
  });
  if (out.traffic === undefined && out.control === undefined) {
    out.traffic = fds[0];
    if (fds.length > 1) out.control = fds[1];
  }
  return out;
}
