"""ec2-managerd --check-config against a table of cases (issue 14).

Each case in tests/integration/check_config/ is a configuration (main file
and drop-ins), the environment it runs in and the exact verdict: the
lines on stdout or stderr and the exit status (check_config/README.md
says how a case is written).  --check-config and start-up share one check
(daemon/preflight.c), and the table holds them to it: a case that the
check accepts must start a daemon that answers ping, and a case that it
rejects must stop start-up with the same reasons.
"""
import glob
import grp
import os
import subprocess

import pytest

from conftest import (ACCESS_KEY, DAEMON, OC_PASSWORD, OC_USER, SECRET_KEY,
                      clean_env, ctl_request, wait_for)

CASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "check_config")
CASES = sorted(os.path.basename(p)[:-5]
               for p in glob.glob(os.path.join(CASES_DIR, "*.conf")))


def default_group_line():
    """What the check says about the default socket group here."""
    try:
        g = grp.getgrnam("ec2-manager")
    except KeyError:
        return ("socket group: none: the default group ec2-manager does not "
                "exist, so only root and the daemon's user may change "
                "clusters (create it with systemd-sysusers)")
    return "socket group: ec2-manager (gid %d, the default)" % g.gr_gid


class Case:
    def __init__(self, name, tmp_path, ec2):
        self.name = name
        self.dir = tmp_path / "etc"
        self.dir.mkdir()
        self.conf = self.dir / "ec2-manager.conf"
        self.socket = str(tmp_path / "ctl.sock")
        state = tmp_path / "state"
        state.mkdir()
        home = tmp_path / "home"
        home.mkdir()
        subst = {"socket": self.socket, "state": str(state),
                 "endpoint": ec2.url, "admin": "http://127.0.0.1:9"}
        with open(os.path.join(CASES_DIR, name + ".conf")) as f:
            text = f.read()
        files = {"ec2-manager.conf": []}
        current = files["ec2-manager.conf"]
        for line in text.splitlines():
            if line.startswith("#--- "):
                current = files.setdefault(line[5:].strip(), [])
                continue
            current.append(line.format(**subst))
        for rel, lines in files.items():
            path = self.dir / rel
            path.parent.mkdir(exist_ok=True)
            path.write_text("\n".join(lines) + "\n")

        self.env = clean_env(home, AWS_ACCESS_KEY_ID=ACCESS_KEY,
                             AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                             OPENCAST_USER=OC_USER,
                             OPENCAST_PASSWORD=OC_PASSWORD)
        self.exit = None
        self.stdout, self.stderr = [], []
        out_subst = {"conf": str(self.conf), "dir": str(self.dir),
                     "endpoint": ec2.url}
        with open(os.path.join(CASES_DIR, name + ".expect")) as f:
            for line in f.read().splitlines():
                key, _, value = line.partition(": ")
                if key == "env":
                    k, _, v = value.partition("=")
                    self.env[k] = v
                elif key == "unset":
                    for k in value.split():
                        self.env.pop(k, None)
                elif key == "credential":
                    creds = tmp_path / "credentials"
                    creds.mkdir(exist_ok=True)
                    k, _, v = value.partition("=")
                    (creds / k).write_text(v + "\n")
                    self.env["CREDENTIALS_DIRECTORY"] = str(creds)
                elif key == "exit":
                    self.exit = int(value)
                elif key in ("stdout", "stderr"):
                    if value == "{group}":
                        value = default_group_line()
                    else:
                        for k, v in out_subst.items():
                            value = value.replace("{%s}" % k, v)
                    getattr(self, key).append(value)
                else:
                    raise AssertionError("%s.expect: bad line %r" %
                                         (name, line))
        assert self.exit is not None, name + ".expect: no exit status"


@pytest.fixture
def ec2(ec2sim_factory):
    return ec2sim_factory({"clusters": [{"prefix": "dev04", "admin": 1,
                                         "workers": 1}]})


@pytest.mark.parametrize("name", CASES)
def test_check_config_case(name, tmp_path, ec2):
    case = Case(name, tmp_path, ec2)
    p = subprocess.run([DAEMON, "--check-config", "-c", str(case.conf)],
                       env=case.env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == case.exit, p.stdout + p.stderr
    if case.exit == 0:
        assert p.stdout.splitlines() == case.stdout, p.stdout
        assert p.stderr == ""
    else:
        assert p.stderr.splitlines() == case.stderr, p.stderr
        assert "configuration OK" not in p.stdout
        for line in case.stdout:
            assert line in p.stdout.splitlines(), p.stdout

    # Start-up checks the same: an accepted case runs and answers, a
    # rejected one stops with the same reasons (all but the verdict).
    log_path = tmp_path / "daemon.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([DAEMON, "-c", str(case.conf)],
                                env=case.env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            if case.exit != 0:
                assert proc.wait(30) == 1
                text = log_path.read_text()
                for reason in case.stderr[:-1]:
                    assert reason in text, text
                return

            def answers():
                if proc.poll() is not None:
                    return True
                try:
                    return ctl_request(case.socket, {
                        "v": 1, "id": 1, "cmd": "ping"})[-1]["ok"]
                except (OSError, AssertionError):
                    return False
            wait_for(answers, what="the daemon's ping")
            assert proc.poll() is None, log_path.read_text()
            proc.terminate()
            assert proc.wait(30) == 0, log_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_every_case_has_its_verdict():
    """A .conf without a .expect (or the reverse) is a case that never
    runs."""
    confs = {p[:-5] for p in glob.glob(os.path.join(CASES_DIR, "*.conf"))}
    expects = {p[:-7] for p in glob.glob(os.path.join(CASES_DIR,
                                                      "*.expect"))}
    assert confs == expects
    assert len(confs) >= 6


UNIT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "systemd", "ec2-managerd.service.in")


def exec_reload_lines(d):
    """The unit's ExecReload= commands, for this daemon: as systemd runs
    them, in order, stopping at the first that fails."""
    cmds = []
    with open(UNIT) as f:
        for line in f:
            if not line.startswith("ExecReload="):
                continue
            cmd = line[len("ExecReload="):].strip()
            cmd = cmd.replace("@sbindir@/ec2-managerd", DAEMON)
            cmd = cmd.replace("@sysconfdir@/ec2-manager/ec2-manager.conf",
                              str(d.conf))
            cmd = cmd.replace("$MAINPID", str(d.proc.pid))
            cmds.append(cmd.split())
    return cmds


def clusters_on_tty(d):
    """`ec2ctl clusters` as an operator sees it: on a terminal (where the
    output is for people), without colours."""
    import pty
    from conftest import EC2CTL
    master, slave = pty.openpty()
    env = clean_env(d.home, NO_COLOR="1")
    p = subprocess.Popen([EC2CTL, "--socket", d.socket, "clusters"],
                         env=env, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:         # EIO: the terminal's other end closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert p.wait(30) == 0, p.stderr.read()
    p.stderr.close()
    return out.decode().replace("\r\n", "\n")


def systemctl_reload(d):
    """Runs ExecReload= as systemd does; the failing command's result, or
    None when every one succeeded."""
    for argv in exec_reload_lines(d):
        p = subprocess.run(argv, env=d.env, capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            return p
    return None


def test_systemctl_reload_checks_first_and_clusters_shows_outcome(
        linked_sims, daemon_factory):
    from conftest import reload_count, reload_daemon
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []}).start()
    # The check comes before the signal, with the file that ExecStart=
    # names.
    cmds = exec_reload_lines(d)
    assert [c[1:3] for c in cmds] == [["--check-config", "-c"],
                                      ["-HUP", str(d.proc.pid)]]
    with open(UNIT) as f:
        unit = f.read()
    start = [l for l in unit.splitlines() if l.startswith("ExecStart=")]
    assert start[0].split()[-1] == "@sysconfdir@/ec2-manager/ec2-manager.conf"
    r = d.request("clusters")["result"]
    assert r["reload"] is None
    assert "dev04" in clusters_on_tty(d)
    assert "last reload" not in clusters_on_tty(d)

    # A bad file: the reload fails with the reasons, and the daemon is
    # never signalled.
    good = d.conf.read_text()
    d.conf.write_text(good + "[cluster dev05]\nmin_worker = 1\n"
                      "[cluster dev05]\n")
    n = reload_count(d)
    failed = systemctl_reload(d)
    assert failed is not None and failed.returncode == 1
    assert failed.args[1] == "--check-config"
    k = len(good.splitlines())
    assert failed.stderr.splitlines() == [
        '%s:%d: unknown key "min_worker" in [cluster dev05]; did you mean '
        'min_workers?' % (d.conf, k + 2),
        "%s:%d: [cluster dev05] again: it was opened at line %d of this "
        "file; give each cluster one section per file" % (d.conf, k + 3,
                                                          k + 1),
        "configuration rejected: %s: 2 errors" % d.conf]
    assert reload_count(d) == n
    assert d.request("clusters")["result"]["reload"] is None

    # A good one: checked, then applied.
    d.conf.write_text(good + "[cluster dev05]\nmin_workers = 1\n")
    assert systemctl_reload(d) is None
    wait_for(lambda: reload_count(d) > n, what="the reload")
    r = d.request("clusters")["result"]
    assert [c["cluster"] for c in r["clusters"]] == ["dev04", "dev05"]
    assert r["reload"]["ok"] is True and r["reload"]["error"] is None
    last = [l for l in clusters_on_tty(d).splitlines()
            if l.startswith("last reload")]
    assert last == ["last reload: %s accepted" % r["reload"]["at"]]

    # A SIGHUP that skips the check (kill -HUP by hand) is still refused
    # by the daemon, with the same check, and the refusal is shown.
    d.conf.write_text(good + "[cluster dev05]\nmin_workers = 1\n"
                      "[cluster dev06]\nzadara_vpsa = vsa-1\n")
    assert reload_daemon(d)
    r = d.request("clusters")["result"]
    assert [c["cluster"] for c in r["clusters"]] == ["dev04", "dev05"]
    assert r["reload"]["ok"] is False
    assert r["reload"]["error"] == (
        "[cluster dev06] has zadara_vpsa = vsa-1 but there is no Zadara "
        "token: give the credential zadara-token, or set "
        "ZADARA_ACCOUNT_TOKEN")
    last = [l for l in clusters_on_tty(d).splitlines()
            if l.startswith("last reload")]
    assert last == ["last reload: %s rejected, the old configuration stays "
                    "in force: %s" % (r["reload"]["at"],
                                      r["reload"]["error"])]
    # Several reasons: the first, and how many more.
    d.conf.write_text(good + "[cluster dev05]\nmin_worker = 1\nfoo\n")
    assert reload_daemon(d)
    err = d.request("clusters")["result"]["reload"]["error"]
    assert err.startswith(str(d.conf) + ':')
    assert err.endswith("did you mean min_workers? (and 1 more)"), err


def denied_message(d, gid):
    """What a peer with uid 65534 and group gid hears when it asks to
    stop a cluster."""
    import json
    os.chmod(d.socket, 0o666)
    code = ("import json,socket,sys\n"
            "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
            "s.sendall((json.dumps({'v':1,'id':1,'cmd':'stop',"
            "'cluster':'dev04','dry_run':True})+'\\n').encode())\n"
            "print(s.makefile('rb').readline().decode())\n")
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=%d" % gid,
                        "--clear-groups", "/usr/bin/python3", "-c", code,
                        d.socket], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    reply = json.loads(p.stdout)
    assert reply["ok"] is False and \
        reply["error"]["code"] == "permission_denied", reply
    return reply["error"]["message"]


@pytest.mark.skipif(not os.path.exists("/usr/bin/setpriv"),
                    reason="no setpriv")
@pytest.mark.parametrize("group", ["users", ""])
def test_refusal_names_the_fix(group, linked_sims, daemon_factory,
                               public_dir):
    """The permission_denied message says how to get the permission: join
    the socket group, or, with no group in force, make one."""
    ec2, oc = linked_sims()
    d = daemon_factory(ec2, oc, {"dev04": []}, socket_dir=public_dir,
                       daemon_conf=["socket_group = " + group]).start()
    nobody_gid = grp.getgrnam("nogroup").gr_gid
    msg = denied_message(d, nobody_gid)
    if group:
        assert msg == (
            "only root, the daemon's user or members of group users "
            "(socket_group) may change clusters; to let this user (uid "
            "65534) do it: usermod -aG users USER, then log in again")
        # A member of the group may.
        users = grp.getgrnam("users").gr_gid
        os.chmod(d.socket, 0o666)
        code = ("import json,socket,sys\n"
                "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
                "s.sendall((json.dumps({'v':1,'id':1,'cmd':'stop',"
                "'cluster':'dev04','dry_run':True})+'\\n').encode())\n"
                "print(s.makefile('rb').readline().decode())\n")
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=%d" % users,
                            "--clear-groups", "/usr/bin/python3", "-c", code,
                            d.socket], capture_output=True, text=True,
                           timeout=30)
        assert '"permission_denied"' not in p.stdout, p.stdout
    else:
        assert msg == (
            "only root or the daemon's user may change clusters: no "
            "socket_group is in force; create group ec2-manager "
            "(systemd-sysusers) or set [daemon] socket_group, restart "
            "ec2-managerd, then usermod -aG GROUP USER and log in again")
