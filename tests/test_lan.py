"""`flask lan-cert` and `make lan`: the https:// certificate is made once, kept in the
instance folder and reused, so browsers warn once, not after every restart."""

from __future__ import annotations

import datetime
import re
import ssl
import subprocess
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from flask_app import lan
from flask_app.lan import CERT_FILE, KEY_FILE
from tests.lan import LanServer
from webrtc_signal.settings import instance_path

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = ROOT / "Makefile"


def fingerprint_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("SHA-256 fingerprint: ")]
    return line


def test_make_lan_keeps_its_certificate_in_the_instance_folder():
    """`make lan` is one command: make or reuse the certificate, then serve every address."""
    text = MAKEFILE.read_text()
    recipe = re.search(r"^lan:.*\n\t(.+)$", text, re.MULTILINE)
    assert recipe, "the Makefile has no lan target"
    assert recipe[1] == (
        "$(BIN)/flask lan-cert && "
        "$(BIN)/flask run --host 0.0.0.0 --cert $(LAN_CERT) --key $(LAN_KEY)"
    )
    # The paths make passes are where lan-cert writes in a checkout: the instance folder,
    # which git ignores.
    paths = dict(re.findall(r"^(LAN_CERT|LAN_KEY) := (.+)$", text, re.MULTILINE))
    assert ROOT / paths["LAN_CERT"] == instance_path() / CERT_FILE
    assert ROOT / paths["LAN_KEY"] == instance_path() / KEY_FILE
    ignored = subprocess.run(
        ["git", "check-ignore", paths["LAN_CERT"], paths["LAN_KEY"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == [paths["LAN_CERT"], paths["LAN_KEY"]], "keep them out of git"


def test_the_certificate_is_made_once_and_reused(runner, tmp_path):
    first = runner.invoke(args=["lan-cert", "--folder", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert first.output.startswith(f"made {tmp_path / CERT_FILE}")
    cert, key = (tmp_path / CERT_FILE).read_bytes(), (tmp_path / KEY_FILE).read_bytes()
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600

    second = runner.invoke(args=["lan-cert", "--folder", str(tmp_path)])
    assert second.exit_code == 0, second.output
    assert second.output.startswith(f"reusing {tmp_path / CERT_FILE}")
    assert fingerprint_line(second.output) == fingerprint_line(first.output)
    assert (tmp_path / CERT_FILE).read_bytes() == cert
    assert (tmp_path / KEY_FILE).read_bytes() == key

    # The fingerprint printed is the certificate's, as a browser's warning page shows it.
    loaded = x509.load_pem_x509_certificate(cert)
    expected = loaded.fingerprint(hashes.SHA256()).hex(":").upper()
    assert fingerprint_line(first.output) == f"SHA-256 fingerprint: {expected}"
    assert loaded.issuer == loaded.subject
    names = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_a_missing_or_broken_pair_is_made_again(runner, tmp_path):
    runner.invoke(args=["lan-cert", "--folder", str(tmp_path)])
    first = (tmp_path / CERT_FILE).read_bytes()
    (tmp_path / KEY_FILE).unlink()
    assert runner.invoke(args=["lan-cert", "--folder", str(tmp_path)]).output.startswith("made")
    second = (tmp_path / CERT_FILE).read_bytes()
    assert second != first
    # A key that is not the certificate's: a pair that cannot serve, so a new pair.
    other = tmp_path / "other"
    runner.invoke(args=["lan-cert", "--folder", str(other)])
    (tmp_path / KEY_FILE).write_bytes((other / KEY_FILE).read_bytes())
    assert runner.invoke(args=["lan-cert", "--folder", str(tmp_path)]).output.startswith("made")
    (tmp_path / CERT_FILE).write_text("not a certificate")
    assert runner.invoke(args=["lan-cert", "--folder", str(tmp_path)]).output.startswith("made")
    assert x509.load_pem_x509_certificate((tmp_path / CERT_FILE).read_bytes())


def test_a_certificate_about_to_expire_is_renewed(runner, tmp_path, monkeypatch):
    runner.invoke(args=["lan-cert", "--folder", str(tmp_path)])
    first = (tmp_path / CERT_FILE).read_bytes()
    # The same certificate seen 790 days on (over a month left), then 800 days on (under).
    renew_before = lan.RENEW_BEFORE
    monkeypatch.setattr(lan, "RENEW_BEFORE", renew_before + datetime.timedelta(days=790))
    assert runner.invoke(args=["lan-cert", "--folder", str(tmp_path)]).output.startswith("reus")
    monkeypatch.setattr(lan, "RENEW_BEFORE", renew_before + datetime.timedelta(days=800))
    assert runner.invoke(args=["lan-cert", "--folder", str(tmp_path)]).output.startswith("made")
    assert (tmp_path / CERT_FILE).read_bytes() != first


def test_the_default_folder_is_the_instance_folder(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    result = runner.invoke(args=["lan-cert"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "instance" / CERT_FILE).is_file()
    assert (tmp_path / "instance" / KEY_FILE).is_file()


def test_a_restarted_server_shows_the_same_certificate(tmp_path):
    """`make lan`, stopped and started again: the browser sees the certificate it accepted."""
    kept = tmp_path / "instance"
    server = LanServer(tmp_path, cert_folder=kept)
    try:
        first = server.certificate()
        assert server.lan_cert_output.startswith("made")
    finally:
        server.stop()
    server = LanServer(tmp_path, cert_folder=kept)
    try:
        again = server.certificate()
        assert server.lan_cert_output.startswith("reusing")
        # A browser that accepted the first certificate trusts the second start: verified
        # against the kept file, address included, the request goes through.
        trusting = ssl.create_default_context(cafile=kept / CERT_FILE)
        with urllib.request.urlopen(f"{server.url}/healthz", context=trusting, timeout=5) as r:
            assert r.status == 200
    finally:
        server.stop()
    assert again.fingerprint(hashes.SHA256()) == first.fingerprint(hashes.SHA256())
