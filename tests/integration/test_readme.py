"""The README's quick start must work as written: the shell blocks between
<!-- quickstart:begin --> and <!-- quickstart:end --> run, in order, in one bash
process, with the binary under test in place of ./build/proxy/dedup-proxy. The
commands carry their own assertions (grep -q ...), so exit status 0 means the
quick start does what it says.

They run from the repo root, as a reader would run them from a checkout (they
name scripts/ and tests/ paths), with TMPDIR pointing at the test's own temp
dir, so `mktemp -d` in the quick start stays out of the way of other runs. The
quick start must therefore be re-runnable: a store under a fixed path would
remember an earlier run's keys."""

import os
import re
import signal
import subprocess

import pytest

from harness import REPO_ROOT, child_env

README = REPO_ROOT / "README.md"
BEGIN = "<!-- quickstart:begin -->"
END = "<!-- quickstart:end -->"
FENCE = re.compile(r"^```(sh|bash|shell|console)?[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
BINARY_IN_README = "./build/proxy/dedup-proxy"
TIMEOUT_SECONDS = 180


def quickstart_blocks(text):
    """The shell blocks between the markers, or None when there are no markers."""
    if BEGIN not in text or END not in text:
        return None
    section = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return [match.group(2) for match in FENCE.finditer(section)
            if match.group(1) in ("sh", "bash", "shell")]


def test_quickstart_blocks_are_extracted_in_order():
    text = ("intro\n```sh\necho no\n```\n" + BEGIN + "\n```sh\necho one\n```\nprose\n"
            "```bash\necho two\n```\n```json\n{}\n```\n" + END + "\n```sh\necho after\n```\n")
    assert quickstart_blocks(text) == ["echo one\n", "echo two\n"]
    assert quickstart_blocks("no markers here") is None


def test_readme_quickstart_runs(proxy_bin, tmp_path):
    if not README.is_file():
        pytest.skip("README.md does not exist yet at %s" % README)
    blocks = quickstart_blocks(README.read_text())
    if blocks is None:
        pytest.skip("README.md has no %s ... %s section yet" % (BEGIN, END))
    assert blocks, "the quick start section holds no ```sh block"

    script = "\n".join(blocks).replace(BINARY_IN_README, str(proxy_bin))
    script_file = tmp_path / "quickstart.sh"
    script_file.write_text("set -eo pipefail\n" + script)
    env = child_env({"PATH": "%s:%s" % (proxy_bin.parent, os.environ.get("PATH", "")),
                     "TMPDIR": str(tmp_path)})

    # Output goes to a file, not a pipe: a server the quick start leaves in the
    # background would hold a pipe open after bash itself has finished.
    output_file = tmp_path / "quickstart.out"
    with open(output_file, "wb") as output:
        process = subprocess.Popen(["bash", str(script_file)], cwd=REPO_ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    timed_out = False
    try:
        process.wait(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        # Whatever the quick start left running in the background goes too.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    transcript = output_file.read_text("utf-8", "replace")[-20000:]
    assert not timed_out, "the quick start did not finish within %ds\n%s" % (
        TIMEOUT_SECONDS, transcript)
    assert process.returncode == 0, (
        "the quick start exited %d\n--- script ---\n%s\n--- output ---\n%s"
        % (process.returncode, script, transcript))
