"""The Debian package: scripts/package builds it from this tree, checks its
contents against tests/package/contents and runs lintian; these tests run
the script once (about 20 s) and look at what it made, and check that the
script fails when a listed path is missing.  scripts/test runs them as its
package step:

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/package
"""
import os
import subprocess
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(ROOT, "scripts", "package")
CONTENTS = os.path.join(ROOT, "tests", "package", "contents")


def run_package(*args):
    proc = subprocess.run([PACKAGE, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900)
    return proc.returncode, proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    rc, output = run_package("--out", str(out))
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    return rc, output, [os.path.join(out, f) for f in debs]


def deb_file(deb, path):
    """The text of one file of the package's data archive."""
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb],
                          stdout=subprocess.PIPE, check=True).stdout
    tmp = deb + ".data.tar"
    with open(tmp, "wb") as f:
        f.write(data)
    with tarfile.open(tmp) as tar:
        return tar.extractfile("." + path).read().decode()


def test_package_builds_with_expected_contents_and_lintian_clean(built):
    rc, output, debs = built
    assert rc == 0, output
    assert len(debs) == 1 and os.path.basename(debs[0]).startswith(
        "ec2-manager_"), output
    lines = output.strip().splitlines()
    assert lines[-1] == "package OK: " + debs[0], output
    assert "contents, conffiles and maintainer scripts as expected" in output
    assert "== package: lintian: no error or warning" in output
    assert "MISSING/WRONG" not in output
    fields = subprocess.run(["dpkg-deb", "-f", debs[0], "Package",
                             "Architecture"], stdout=subprocess.PIPE,
                            text=True, check=True).stdout
    assert "Package: ec2-manager" in fields


def test_package_units_and_config_use_system_paths(built):
    rc, output, debs = built
    assert rc == 0, output
    service = deb_file(debs[0], "/lib/systemd/system/ec2-managerd.service")
    assert ("ExecStart=/usr/sbin/ec2-managerd -c "
            "/etc/ec2-manager/ec2-manager.conf") in service
    with open(os.path.join(ROOT, "etc", "ec2-manager.conf")) as f:
        assert deb_file(debs[0], "/etc/ec2-manager/ec2-manager.conf") == \
            f.read()


def test_package_check_fails_on_a_missing_path(built, tmp_path):
    rc, output, debs = built
    assert rc == 0, output
    contents = tmp_path / "contents"
    with open(CONTENTS) as f:
        contents.write_text(f.read() +
                            "/usr/share/doc/ec2-manager/NOT-THERE\n")
    rc, output = run_package("--check-deb", debs[0],
                             "--contents", str(contents))
    assert rc == 1, output
    assert ("MISSING/WRONG: /usr/share/doc/ec2-manager/NOT-THERE is not in "
            "the package") in output
    assert output.strip().splitlines()[-1].startswith("package FAILED")
