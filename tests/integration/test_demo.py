"""scripts/demo, shortened and non-interactive: the autoscaler scales the
demo cluster up during the burst and down in the quiet that follows, and
the demo stops every process it started -- also when the terminal's Ctrl-C
(SIGINT to the process group) ends it.  --keep leaves the cluster running
for ec2ctl; --help answers without installing or building."""
import os
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BUILD_DIR, EC2CTL, ROOT, clean_env

PIDS = re.compile(r"started ec2sim pid (\d+), ocsim pid (\d+), "
                  r"ec2-managerd pid (\d+) in (\S+)")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(p) for p in pids)


def read_until(proc, pattern, timeout):
    """Reads proc's stdout until a line matches pattern; returns all text
    read so far (the match is in it) or fails after timeout seconds."""
    out = ""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while not re.search(pattern, out, re.M):
        left = deadline - time.monotonic()
        assert left > 0, "no %r within %ss:\n%s" % (pattern, timeout,
                                                    out[-3000:])
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536).decode()
            assert chunk, "demo ended early:\n" + out[-3000:]
            out += chunk
    return out


def test_short_demo(tmp_path):
    env = clean_env(tmp_path, EC2M_BUILD_DIR=BUILD_DIR)
    p = subprocess.run([os.path.join(ROOT, "scripts", "demo"), "--minutes",
                        "1.2", "--plain"], env=env, capture_output=True,
                       text=True, timeout=240)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    m = re.search(r"demo summary: scale-ups (\d+), scale-downs (\d+), "
                  r"peak workers (\d+)", p.stdout)
    assert m, p.stdout[-2000:]
    ups, downs, peak = map(int, m.groups())
    assert ups >= 1 and downs >= 1
    assert peak > 2
    assert "autoscale: scale_up:" in p.stdout
    assert "autoscale: scale_down:" in p.stdout
    # A number the daemon has not read yet is "?", never Python's None.
    assert "None" not in p.stdout
    # The decision history after the summary keeps every scale decision,
    # and folds a run of identical decisions into one line.
    hist = p.stdout.split("decision history (repeats folded):\n", 1)[1]
    assert "autoscale: scale_up:" in hist and "autoscale: scale_down:" in hist
    lines = [l for l in hist.splitlines() if l.startswith("  ")]
    msgs = [re.sub(r"^\s*\S+ | \(x\d+, until \S+\)$", "", l) for l in lines]
    folded = [re.sub(r"\d+", "#", m) if "autoscale: none:" in m else m
              for m in msgs]
    assert all(a != b for a, b in zip(folded, folded[1:])), hist
    assert "stopped every process (ec2-managerd exit 0)" in p.stdout
    pids = [int(x) for x in PIDS.search(p.stdout).groups()[:3]]
    assert wait_gone(pids)
    assert not os.path.exists(PIDS.search(p.stdout).group(4))


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_ctrl_c_stops_cleanly_with_summary(tmp_path, inherited):
    """SIGINT to the demo's whole process group, as a terminal sends it;
    also when the demo was started with SIGINT ignored, as a
    non-interactive shell starts what it runs with "&"."""
    env = clean_env(tmp_path, EC2M_BUILD_DIR=BUILD_DIR)
    disposition = (signal.SIG_IGN if inherited == "ignored"
                   else signal.SIG_DFL)
    proc = subprocess.Popen([os.path.join(ROOT, "scripts", "demo"),
                             "--minutes", "5", "--plain"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(
                                signal.SIGINT, disposition))
    try:
        out = read_until(proc, r"^demo: +\d+s of", 60)
        m = PIDS.search(out)
        pids, tmp = [int(x) for x in m.groups()[:3]], m.group(4)
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out += rest.decode()
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "demo: interrupted" in out
    assert re.search(r"demo summary: scale-ups \d+, scale-downs \d+", out)
    assert "decision history (repeats folded):" in out
    assert "stopped every process (ec2-managerd exit 0)" in out, out[-2000:]
    assert wait_gone(pids)
    assert not os.path.exists(tmp)


def test_keep_leaves_the_cluster_for_ec2ctl(tmp_path):
    env = clean_env(tmp_path, EC2M_BUILD_DIR=BUILD_DIR)
    p = subprocess.run([os.path.join(ROOT, "scripts", "demo"), "--minutes",
                        "0.1", "--plain", "--keep"], env=env,
                       capture_output=True, text=True, timeout=120)
    m = PIDS.search(p.stdout)
    pids, tmp = [int(x) for x in m.groups()[:3]], m.group(4)
    try:
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        sock = re.search(r"^  export EC2CTL_SOCKET=(\S+)$", p.stdout,
                         re.M).group(1)
        assert re.search(r"^when done: kill %d %d %d; rm -rf %s$" % (
            pids[0], pids[1], pids[2], re.escape(tmp)), p.stdout, re.M)
        assert all(alive(pid) for pid in pids)
        st = subprocess.run([EC2CTL, "-j", "demo", "status"],
                            env=dict(env, EC2CTL_SOCKET=sock),
                            capture_output=True, text=True, timeout=30)
        assert st.returncode == 0, st.stderr
        assert '"demo"' in st.stdout
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
        assert wait_gone(pids, 40)
        shutil.rmtree(tmp, ignore_errors=True)


def test_help_answers_without_building(tmp_path):
    """A copy of the scripts without a build: --help answers at once and
    neither installs nor builds anything."""
    for rel in ("scripts/demo", "scripts/demo.py", "scripts/lib.sh",
                "tests/sim/harness.py"):
        os.makedirs(tmp_path / os.path.dirname(rel), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), tmp_path / rel)
    env = clean_env(tmp_path)
    env.pop("EC2M_BUILD_DIR", None)
    env["PATH"] = "/usr/bin:/bin"
    p = subprocess.run([str(tmp_path / "scripts" / "demo"), "--help"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: scripts/demo")
    assert "--keep" in p.stdout
    assert "building" not in p.stdout + p.stderr
    assert not (tmp_path / "build-demo").exists()
