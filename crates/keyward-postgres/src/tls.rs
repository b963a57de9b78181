//! TLS for PostgreSQL connections through rustls, with libpq's `sslmode`
//! meanings: `prefer` and `require` encrypt without checking the server's
//! certificate (as libpq does), `verify-ca` checks that a trusted CA signed
//! it, and `verify-full` also checks that it names the host. The CAs are
//! `sslrootcert`'s, else the system's. (libpq, given a `sslrootcert` with
//! `require`, verifies the CA; so does keyward.)

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::url::Tls;
use keyward_core::error::Result;

/// The connector for `mode`; `root` is `sslrootcert`.
pub fn connector(mode: Tls, root: Option<&Path>) -> Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verify = match (mode, root) {
        (Tls::VerifyFull, _) => Check::Full,
        (Tls::VerifyCa, _) | (Tls::Require, Some(_)) => Check::Ca,
        _ => Check::None,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Check::None => Arc::new(Encrypt(provider.signature_verification_algorithms)),
        Check::Ca | Check::Full => {
            let roots = Arc::new(roots(root)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
                .build()
                .context("cannot set up the TLS certificate check")?;
            match verify {
                Check::Full => webpki,
                _ => Arc::new(AnyName(webpki)),
            }
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

enum Check {
    None,
    Ca,
    Full,
}

/// The CAs to trust: the `sslrootcert` file's, else the system's.
fn roots(file: Option<&Path>) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read sslrootcert {}", path.display()))?;
            for cert in certs {
                let cert =
                    cert.with_context(|| format!("sslrootcert {} is not PEM", path.display()))?;
                store.add(cert).with_context(|| {
                    format!("sslrootcert {} holds a bad certificate", path.display())
                })?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = store.add(cert);
            }
        }
    }
    anyhow::ensure!(
        !store.is_empty(),
        "no CA certificates to verify the server with: give sslrootcert=FILE in the URL"
    );
    Ok(store)
}

/// `prefer`/`require`: encrypted, the certificate not checked (libpq's
/// meaning of those modes), the handshake's signatures still checked.
#[derive(Debug)]
struct Encrypt(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Encrypt {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `verify-ca`: a trusted CA signed the certificate, whatever host it names.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
