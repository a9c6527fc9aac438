"""No input ends the daemon (SPEC §3, issue 12): a client's strings, an
instance name and the bytes of an upstream answer may hold any bytes, and a
message cut into a buffer may fall inside a character.  Every line the
daemon writes is valid UTF-8 JSON, and the daemon answers `ping` after
each case.  Each case runs over several lengths, so that the cut falls at
every offset inside a three-byte character."""
import json
import socket

import pytest

from conftest import cluster_ec2_seed, wait_for

WIDE = "\u65e5"         # 日: three bytes in UTF-8


def raw_exchange(sock_path, payload, timeout=10.0):
    """Sends raw bytes (one or more request lines); returns every answer
    line as bytes, until as many final replies as lines sent."""
    expect = payload.count(b"\n")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    lines, buf, finals = [], b"", 0
    try:
        s.sendall(payload)
        while finals < expect:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append(line)
                if b'"ok":' in line:
                    finals += 1
    finally:
        s.close()
    return lines


def decode_line(line):
    """A line must be valid UTF-8 and one JSON object."""
    text = line.decode("utf-8")         # raises on invalid UTF-8
    msg = json.loads(text)
    assert isinstance(msg, dict), text
    return msg


def assert_alive(d):
    assert d.proc.poll() is None, d.read_log()[-3000:]
    assert d.answers(), "daemon does not answer ping"


@pytest.fixture
def daemon(linked_sims, daemon_factory):
    ec2, oc = linked_sims(clusters=[cluster_ec2_seed(workers=2, running=0)])
    d = daemon_factory(ec2, oc, {"dev04": ["min_workers = 1",
                                           "wait_interval = 200ms",
                                           "wait_retries = 40"]}).start()
    return ec2, oc, d


def test_wide_strings_in_requests(daemon):
    """Where a word is expected (a command, level, mode, direction,
    action), a long string of multi-byte characters is a clear error."""
    _, _, d = daemon
    cases = []
    for n in range(30, 40):             # the first abort: 34 characters
        cases.append(({"v": 1, "id": n, "cmd": WIDE * n},
                      "unknown_command"))
    for n in range(160, 220, 7):
        w = WIDE * n
        cases += [
            ({"v": 1, "id": n, "cmd": "status", "cluster": "dev04",
              "level": w}, "bad_request"),
            ({"v": 1, "id": n, "cmd": "maintenance", "cluster": "dev04",
              "args": {"mode": w}}, "bad_request"),
            ({"v": 1, "id": n, "cmd": "scale", "cluster": "dev04",
              "args": {"direction": w}}, "bad_request"),
            ({"v": 1, "id": n, "cmd": "autoscale", "cluster": "dev04",
              "args": {"action": w}}, "bad_request"),
            ({"v": 1, "id": n, "cmd": "status", "cluster": "dev04",
              "args": {w: 1}}, "bad_request"),
            ({"v": 1, "id": n, "cmd": "status", "cluster": w},
             "bad_request"),
        ]
    for req, code in cases:
        lines = raw_exchange(d.socket, (json.dumps(req, ensure_ascii=False)
                                        + "\n").encode())
        assert lines, "no answer to %r" % req["cmd"][:10]
        for line in lines:
            msg = decode_line(line)
            assert msg["id"] == req["id"]
        final = decode_line(lines[-1])
        assert final["ok"] is False and final["error"]["code"] == code, final
    assert_alive(d)


def test_raw_bytes_in_requests(daemon):
    """Bytes that are not UTF-8, or not JSON at all, get a bad_request
    whose message is valid UTF-8 (jansson quotes the bad token)."""
    _, _, d = daemon
    payloads = [
        b'{"v":1,"id":3,"cmd":"\xe9t\xe9"}\n',
        b'\xe9\xe9\xe9\n',
        b'{"v":1,"id":4,"cmd":"ping","\xff":1}\n',
        b'{"v":1,"id":5,"cmd":"status","cluster":"dev04","level":"' +
        WIDE.encode()[:2] + b'"}\n',
        b'[' + b'\xc3' * 300 + b'\n',
        b'{"v":1,"id":6,"cmd":"ping"} \xe6\x97\n',
    ]
    for p in payloads:
        lines = raw_exchange(d.socket, p)
        assert lines, p
        final = decode_line(lines[-1])
        assert final["ok"] is False, final
        assert final["error"]["code"] == "bad_request", final
    assert_alive(d)


@pytest.mark.parametrize("base", [196, 197, 198])
def test_wide_instance_names(daemon, base):
    """Workers tagged dev04-worker-x + ~200 × 日 (valid EC2 tags): `start
    -w 1` waits for the started one to register in Opencast (its message
    names it), and `stop` is refused for a held one (the refusal names
    it).  Names of two lengths per run, three runs: every cut offset."""
    ec2, oc, d = daemon
    ws = sorted(i["id"] for i in ec2.ctl("GET", "instances")
                if i["name"] == "dev04-worker")
    names = {}
    for k, iid in enumerate(ws):
        names[iid] = "dev04-worker-x" + WIDE * (base + k)
        ec2.ctl("POST", "instances/" + iid,
                {"tags": {"Name": names[iid]}})
    # Slow registration: the wait reports "not registered" several times.
    oc.ctl("POST", "settings", {"registration_delay_s": 1.5})
    st = d.status("dev04", refresh=True)
    assert sorted(i["name"] for i in st["instances"]
                  if i["role"] == "worker") == sorted(names.values())

    r = d.ctl("-d", "dev04", "start", "-w", "1")
    assert r.returncode == 0, r.stderr
    r.stdout.encode("utf-8")
    # The wait named the worker (cut to fit, at a character boundary).
    waits = [ln for ln in r.stderr.splitlines()
             if " wait_opencast " in ln and "dev04-worker-x" + WIDE * 50 in ln]
    assert waits, r.stderr
    assert_alive(d)

    running = [i["id"] for i in ec2.ctl("GET", "instances")
               if i["id"] in names and i["state"] == "running"]
    assert len(running) == 1
    ec2.ctl("POST", "instances/" + running[0],
            {"tags": {"Name": names[running[0]], "hold": "yes"}})
    d.status("dev04", refresh=True)
    r = d.ctl("dev04", "stop")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "held" in r.stderr, r.stderr
    assert_alive(d)

    # Status and events carry the names whole and valid.
    lines = raw_exchange(d.socket, b'{"v":1,"id":9,"cmd":"events",'
                         b'"cluster":"dev04","args":{"n":500}}\n'
                         b'{"v":1,"id":10,"cmd":"status",'
                         b'"cluster":"dev04"}\n')
    for line in lines:
        decode_line(line)
    st = decode_line(lines[-1])["result"]
    assert names[running[0]] in [i["name"] for i in st["instances"]]


def test_upstream_bytes_in_error_text(daemon):
    """An EC2 answer that is not well-formed XML and has 0xE9 in a tag
    name: libxml2 quotes the tag in its error, and that text reaches the
    `upstream` error and status as valid UTF-8 (the byte replaced)."""
    ec2, _, d = daemon
    for _ in range(3):
        ec2.ctl("POST", "faults", {"action": "DescribeInstances",
                                   "kind": "bad_bytes"})
        r = d.ctl("--json", "dev04", "status", "--refresh")
        assert r.returncode == 1, r.stdout + r.stderr
        err = json.loads(r.stdout)["error"]
        assert err["code"] == "upstream", err
        assert "malformed XML" in err["message"], err
        # Named once, as an operator reads it (not "EC2: EC2 ...").
        assert err["message"].startswith(
            "refresh of dev04 failed: EC2 DescribeInstances failed: "), err
        assert "r\ufffdservationSet" in err["message"], err
        assert_alive(d)
        st = d.status("dev04")
        # Every key of SPEC §6 is present, the failure included.
        assert st["ec2"]["ok"] is False
        assert "\ufffd" in st["ec2"]["error"], st["ec2"]
        for key in ("cluster", "instances", "opencast", "autoscale",
                    "operation", "updated_at"):
            assert key in st
    # It recovers once EC2 answers properly again.
    wait_for(lambda: d.status("dev04", refresh=True)["ec2"]["ok"],
             what="EC2 readable again")
