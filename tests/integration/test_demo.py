"""scripts/demo, shortened and non-interactive: the autoscaler scales the
demo cluster up during the burst and down in the quiet that follows, and
the demo stops every process it started."""
import os
import re
import subprocess

from conftest import BUILD_DIR, ROOT, clean_env


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
    assert "stopped every process (ec2-managerd exit 0)" in p.stdout
    pids = [int(x) for x in re.search(
        r"started ec2sim pid (\d+), ocsim pid (\d+), ec2-managerd pid "
        r"(\d+) in (\S+)", p.stdout).groups()[:3]]
    assert not any(alive(pid) for pid in pids)
    tmp = re.search(r"ec2-managerd pid \d+ in (\S+)", p.stdout).group(1)
    assert not os.path.exists(tmp)
