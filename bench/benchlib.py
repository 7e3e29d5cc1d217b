"""Shared by bench/fps and bench/memory: release binaries, a private runtime dir, a
compositor started and waited for, and what /proc says about its process.

Kept as a small module beside the scripts (not a package) so each benchmark stays one
file to run.
"""
import os, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("PLANAR_BIN_DIR", os.path.join(ROOT, "target", "release"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
SOCKET = "bench"


def build():
    """Optimised binaries (weston is an optimised build too), unless PLANAR_BIN_DIR names some."""
    if "PLANAR_BIN_DIR" not in os.environ:
        subprocess.run([os.path.join(ROOT, "scripts", "build"), "--release"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def weston_or_exit():
    weston = shutil.which("weston")
    if weston is None:
        sys.exit("weston is not installed (scripts/setup installs it)")
    return weston


def planar_argv(size, hz):
    return [os.path.join(BIN, "planar"), "run", "--renderer", "gles", "--socket", SOCKET,
            "--size", size, "--refresh", str(hz)]


def weston_argv(weston, size, hz):
    w, h = size.split("x")
    # kiosk-shell: Weston's lightest shell, and it shows a window at once (no fade-in).
    return [weston, "--backend=headless", "--renderer=gl", f"--width={w}", f"--height={h}",
            f"--refresh-rate={hz * 1000}", f"--socket={SOCKET}", "--shell=kiosk-shell.so",
            "--idle-time=0"]


class Compositor:
    """A compositor on a private runtime dir, ready once its socket exists."""

    def __init__(self, argv, extra_env=None):
        self.name = os.path.basename(argv[0])
        self.dir = tempfile.TemporaryDirectory(prefix="planar-bench-")
        os.chmod(self.dir.name, 0o700)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.dir.name, WAYLAND_DISPLAY=SOCKET,
                        LIBGL_ALWAYS_SOFTWARE="1", **(extra_env or {}))
        self.env.pop("DISPLAY", None)
        self.proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        sock = os.path.join(self.dir.name, SOCKET)
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{argv[0]} did not open its socket")
            time.sleep(0.01)
        # planar answers while its renderer starts on a worker; a first client that runs
        # before it is ready would time the start-up. One throwaway client settles both.

    def client(self, args, **kw):
        kw.setdefault("stdout", subprocess.DEVNULL)
        return subprocess.Popen([os.path.join(BIN, "planar-client")] + args, env=self.env, **kw)

    def cpu_seconds(self):
        """utime + stime of every thread of the compositor so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_kib(self):
        """Resident set from smaps_rollup: exact, where VmRSS lags behind (the kernel batches
        per-thread RSS counters)."""
        with open(f"/proc/{self.proc.pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    return int(line.split()[1])
        return 0

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.dir.cleanup()


def load():
    return os.getloadavg()[0]
