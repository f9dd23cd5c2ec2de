"""`make lan`'s server for the tests: `flask lan-cert` then `flask run` with that certificate,
on a free loopback port, the certificate kept in a folder of the test's own."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cryptography import x509

from flask_app.lan import CERT_FILE, KEY_FILE
from harness.endpoint import Endpoint
from harness.network import free_port


class LanServer(Endpoint):
    """`make lan`'s two commands, but for the address and the folder of the certificate."""

    def __init__(self, folder: Path, cert_folder: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        cert_folder = cert_folder or folder
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SIGNAL_"))}
        env.update(SIGNAL_STORE=f"sqlite:///{folder / 'signal.sqlite'}", FLASK_APP="flask_app")
        flask = [sys.executable, "-m", "flask"]
        made = subprocess.run(
            [*flask, "lan-cert", "--folder", str(cert_folder)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stdout + made.stderr
        self.lan_cert_output = made.stdout
        self.log = folder / "flask-run.log"
        tls = ["--cert", str(cert_folder / CERT_FILE), "--key", str(cert_folder / KEY_FILE)]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [*flask, "run", "--host", "127.0.0.1", "--port", str(self.port), *tls],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # The certificate is self-made: only the test's own requests skip checking it.
        self.tls = ssl.create_default_context()
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", context=self.tls, timeout=2):
                    return
            except OSError:
                exited = self.process.poll() is not None
                assert not exited, f"flask run exited:\n{self.log.read_text()}"
                assert time.monotonic() < deadline, "flask run --cert did not start"
                time.sleep(0.2)

    def certificate(self) -> x509.Certificate:
        """The certificate the server shows (untrusted, so read without checking it)."""
        with (
            socket.create_connection(("127.0.0.1", self.port), timeout=5) as raw,
            self.tls.wrap_socket(raw) as tls,
        ):
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
