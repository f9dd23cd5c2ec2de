"""``flask lan-cert``: the certificate `make lan` serves https:// with, made once and kept.

Browsers give cameras only to https:// pages (or localhost), so serving other machines on a
LAN takes a certificate. A self-made one is warned about once per browser; making a new one
at every start (``flask run --cert adhoc``) would bring the warning back after each restart.
So the certificate and its key live in the instance folder (git-ignored), made the first
time and reused after, until a month before they expire.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

CERT_FILE = "lan-cert.pem"
KEY_FILE = "lan-key.pem"
VALID_FOR = datetime.timedelta(days=825)  # the longest a browser accepts for a server's
RENEW_BEFORE = datetime.timedelta(days=30)


def init_app(app: Flask) -> None:
    """Add ``flask lan-cert``."""
    app.cli.add_command(lan_cert_command)


def _need_cryptography():
    """The x509 module, or a one-line hint when the ``lan`` extra is not installed."""
    try:
        from cryptography import x509
    except ImportError:
        raise click.ClickException(
            "flask lan-cert needs cryptography: pip install 'webrtc-signal[lan]'"
        ) from None
    return x509


def fingerprint(cert_path: Path) -> str:
    """The certificate's SHA-256 fingerprint, as browsers show it (AB:CD:...)."""
    x509 = _need_cryptography()
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _usable(cert_path: Path, key_path: Path) -> bool:
    """Whether the kept certificate and key load, belong together and stay valid a while."""
    x509 = _need_cryptography()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    now = datetime.datetime.now(datetime.UTC)
    return cert.public_key() == key.public_key() and cert.not_valid_after_utc - RENEW_BEFORE > now


def _names() -> list:
    """What the certificate names: this machine and loopback. The LAN address is left out:
    it changes with the network, and a self-made certificate is warned about anyway."""
    x509 = _need_cryptography()
    host = socket.gethostname()
    dns = dict.fromkeys(["localhost", host, f"{host}.local"])
    ips = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    return [*(x509.DNSName(name) for name in dns), *(x509.IPAddress(ip) for ip in ips)]


def _make(cert_path: Path, key_path: Path) -> None:
    """A new self-signed certificate and its key, each written whole or not at all."""
    x509 = _need_cryptography()
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webrtc-signal on the LAN")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))  # a clock a little behind
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(_names()), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(key_path, key_pem, mode=0o600)  # the key is readable by its owner alone
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def ensure_certificate(folder: Path) -> tuple[Path, Path, bool]:
    """The certificate and key in ``folder``, made there if missing or unusable; the two
    paths, and whether they were made now."""
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    if _usable(cert_path, key_path):
        return cert_path, key_path, False
    _make(cert_path, key_path)
    return cert_path, key_path, True


@click.command("lan-cert")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep them (default: the instance folder).",
)
@with_appcontext
def lan_cert_command(folder: Path | None) -> None:
    """Make the https:// certificate for `make lan` once, or reuse the one made before."""
    folder = folder or Path(current_app.instance_path)
    cert_path, key_path, made = ensure_certificate(folder)
    click.echo(f"{'made' if made else 'reusing'} {cert_path} (key: {key_path})")
    click.echo(f"SHA-256 fingerprint: {fingerprint(cert_path)}")
