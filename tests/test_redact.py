"""The secret set: which names are secret, where values are replaced, streams and pumps."""

from __future__ import annotations

import io
import json
import os

from pytest_spilot.redact import PipePump, RedactingStream, Redactor


def test_listed_and_secret_looking_names_are_redacted_but_not_lookalikes() -> None:
    env = {
        "CDS_LIC_FILE": "5280@lic1",
        "GITHUB_TOKEN": "ghp_abc",
        "MY_VAR": "plain-value",
        "PUBLIC_URL": "https://example.org",  # 'LIC' inside a word is not a licence
        "SHORT_TOKEN": "ab",  # too short to redact without blanking ordinary text
    }
    secrets = Redactor(["MY_VAR"], env)
    text = " ".join(env.values())
    assert secrets.text(text) == "*** *** *** https://example.org ab"


def test_values_are_found_json_escaped_too() -> None:
    secrets = Redactor(["K"], {"K": 'a"b\\c'})
    line = json.dumps({"message": 'got a"b\\c'})
    assert 'a\\"b' not in secrets.text(line)
    assert json.loads(secrets.text(line)) == {"message": "got ***"}


def test_add_grows_the_shared_set_in_place() -> None:
    secrets = Redactor()
    holder = [secrets]
    secrets.add(["OWN"], {"OWN": "own-value", "OTHER": "not-secret"})
    assert holder[0].text("own-value not-secret") == "*** not-secret"
    assert secrets.is_secret("OWN") and not secrets.is_secret("OTHER")


def test_a_secret_split_across_writes_is_still_redacted() -> None:
    out = io.BytesIO()
    stream = RedactingStream([out], Redactor(["K"], {"K": "hunter22"}))
    for chunk in (b"pass=hun", b"ter22\nnext hunt", b"er22"):
        stream.write(chunk)
    stream.close()
    assert out.getvalue() == b"pass=***\nnext ***"


def test_pipe_pump_copies_until_end_of_file() -> None:
    read_fd, write_fd = os.pipe()
    out = io.BytesIO()
    pump = PipePump(read_fd, RedactingStream([out], Redactor(["K"], {"K": "s3cret"}), keep=False))
    os.write(write_fd, b"one s3cret\ntwo")
    os.close(write_fd)
    pump.close(timeout_s=5)
    assert out.getvalue() == b"one ***\ntwo"
