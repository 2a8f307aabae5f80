"""Certificates for the local services' TLS listeners, made on this machine with openssl: a
private CA, a server certificate for 127.0.0.1 and localhost signed by it (MariaDB and Kafka
share it), and a PKCS#12 keystore of it for Kafka. Production brings its own; clients verify
the server against `ca.pem` (mysql.tls.ca_file, kafka.security.ca_file)."""
from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from services.processes import ServiceError

log = logging.getLogger(__name__)

VALID_DAYS = 825
SERVER_NAMES = "subjectAltName=IP:127.0.0.1,DNS:localhost"


@dataclass(frozen=True)
class LocalCertificates:
    """Where the local CA and server certificate live (state/tls/), made once."""

    folder: Path

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server-key.pem"

    @property
    def keystore(self) -> Path:
        return self.folder / "server.p12"

    @property
    def keystore_password_file(self) -> Path:
        return self.folder / "keystore-password"

    def ensure(self) -> LocalCertificates:
        """Make the CA, the server certificate and the keystore unless they exist."""
        if self.keystore.exists() and self.server_cert.exists() and self.ca_file.exists():
            return self
        if shutil.which("openssl") is None:
            raise ServiceError("openssl not found on PATH; it makes the local services' TLS certificates")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._make_ca()
        self._make_server_certificate()
        self._make_keystore()
        log.info("made the local TLS certificates in %s (CA: %s)", self.folder, self.ca_file)
        return self

    def _make_ca(self) -> None:
        key = self.folder / "ca-key.pem"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(self.ca_file),
                 "-days", str(VALID_DAYS), "-subj", "/CN=payscore local CA")
        key.chmod(0o600)

    def _make_server_certificate(self) -> None:
        request = self.folder / "server.csr"
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.server_key), "-out", str(request),
                 "-subj", "/CN=localhost", "-addext", SERVER_NAMES)
        self.server_key.chmod(0o600)
        _openssl("x509", "-req", "-in", str(request), "-CA", str(self.ca_file), "-CAkey",
                 str(self.folder / "ca-key.pem"), "-CAcreateserial", "-out", str(self.server_cert),
                 "-days", str(VALID_DAYS), "-copy_extensions", "copy")
        request.unlink()

    def _make_keystore(self) -> None:
        password = secrets.token_urlsafe(24)
        self.keystore_password_file.write_text(password + "\n", encoding="utf-8")
        self.keystore_password_file.chmod(0o600)
        _openssl("pkcs12", "-export", "-in", str(self.server_cert), "-inkey", str(self.server_key),
                 "-certfile", str(self.ca_file), "-out", str(self.keystore), "-name", "server",
                 "-passout", f"file:{self.keystore_password_file}")
        self.keystore.chmod(0o600)

    def keystore_password(self) -> str:
        return self.keystore_password_file.read_text(encoding="utf-8").strip()


def _openssl(*arguments: str) -> None:
    result = subprocess.run(["openssl", *arguments], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceError(f"openssl {arguments[0]} failed: {result.stderr.strip()[-500:]}")
