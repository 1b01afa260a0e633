"""SMTP over STARTTLS and over TLS from the start, against a loopback server with its own
certificate (made here; the client trusts exactly it)."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from notify_support import Inbox, free_port

from troth.notify import DeliveryError, SMTPTransport

ADDRESS = "reader@example.org"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def message() -> EmailMessage:
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = "hello@kestrel.example", ADDRESS, "Hello"
    email.set_content("Sent over TLS.")
    return email


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context(certificate),
        require_starttls=True,
    )
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    context = server_context(certificate)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    yield inbox, port
    controller.stop()


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_starttls(starttls_server: tuple[Inbox, int], certificate: tuple[Path, Path]) -> None:
    inbox, port = starttls_server
    url = f"smtp+starttls://127.0.0.1:{port}"
    transport = SMTPTransport.from_url(url, ssl_context=trusting(certificate))
    transport.send(message())
    [received] = inbox.received
    assert received.recipients == [ADDRESS] and received.text.strip() == "Sent over TLS."


def test_plain_smtp_is_refused_by_a_server_that_requires_starttls(
    starttls_server: tuple[Inbox, int],
) -> None:
    inbox, port = starttls_server
    with pytest.raises(DeliveryError, match="SMTP 530") as refused:
        SMTPTransport.from_url(f"smtp://127.0.0.1:{port}").send(message())
    assert ADDRESS not in refused.value.reason
    # The operator's setting, not the message's fault: kept to try again once it is fixed.
    assert not refused.value.permanent
    assert inbox.received == []


def test_tls_from_the_start(tls_server: tuple[Inbox, int], certificate: tuple[Path, Path]) -> None:
    inbox, port = tls_server
    transport = SMTPTransport.from_url(
        f"smtps://127.0.0.1:{port}", ssl_context=trusting(certificate)
    )
    transport.send(message())
    assert [r.recipients for r in inbox.received] == [[ADDRESS]]


def test_an_untrusted_certificate_is_not_sent_to(tls_server: tuple[Inbox, int]) -> None:
    inbox, port = tls_server
    with pytest.raises(DeliveryError, match="SSLCertVerificationError"):
        SMTPTransport.from_url(f"smtps://127.0.0.1:{port}").send(message())
    assert inbox.received == []
