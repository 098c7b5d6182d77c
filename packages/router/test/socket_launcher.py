#!/usr/bin/env python3
# Emulates systemd socket activation for the upgrade test: holds listening sockets (like a
# dynoform-router.socket unit) and starts the router with them as fds 3.. (LISTEN_FDS/LISTEN_PID),
# then restarts it like `systemctl restart` does (SIGTERM, wait for the exit, start again) each
# time it reads "restart" on stdin. Prints "listening", "started <pid>", "exited <code>".
#   socket_launcher.py PORT[,PORT...] -- COMMAND ARGS...
import os, signal, socket, subprocess, sys

ports = [int(p) for p in sys.argv[1].split(",")]
cmd = sys.argv[sys.argv.index("--") + 1:]
socks = []
for p in ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p))
    s.listen(4096)
    socks.append(s)

def pre():
    for i, s in enumerate(socks):
        os.dup2(s.fileno(), 3 + i)
        os.set_inheritable(3 + i, True)

def start():
    env = dict(os.environ, LISTEN_FDS=str(len(socks)))
    # LISTEN_PID must be the router's own pid: set by the shell that execs it.
    p = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"] + cmd,
                         env=env, preexec_fn=pre, pass_fds=tuple(range(3, 3 + len(socks))))
    print("started", p.pid, flush=True)
    return p

print("listening", flush=True)
child = start()
for line in sys.stdin:
    line = line.strip()
    if line == "restart":
        child.send_signal(signal.SIGTERM)
        code = child.wait()
        print("exited", code, flush=True)
        child = start()
    elif line == "stop":
        break
child.send_signal(signal.SIGTERM)
try:
    code = child.wait(timeout=40)
except subprocess.TimeoutExpired:
    child.kill()
    code = child.wait()
print("exited", code, flush=True)
