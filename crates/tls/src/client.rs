//! Client-side TLS: the settings a connection is configured with and the rustls client
//! configuration built from them, for ESME connections (SMPP over TLS, as SMSCs offer it on
//! their secure port) and for Impulse's other TLS clients (MM7 over HTTPS). The peer's
//! certificate is verified by default, against Mozilla's roots (webpki-roots) plus an optional
//! private CA file; turning verification off is an explicit, logged choice for test peers with
//! self-made certificates.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

/// How an ESME connection uses TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// The name the SMSC's certificate must carry (its host name or IP address).
    pub server_name: String,
    /// Verify the SMSC's certificate chain and name (default). `false` accepts any
    /// certificate: for test SMSCs only.
    pub verify: bool,
    /// PEM file of extra trust anchors (an operator's private CA).
    pub ca_file: Option<PathBuf>,
}

/// A ready client configuration and the name to ask for.
#[derive(Clone, Debug)]
pub struct Client {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// Builds the client side of TLS from `settings`.
pub fn client(settings: &TlsSettings) -> Result<Client, String> {
    let server_name = ServerName::try_from(settings.server_name.clone())
        .map_err(|e| format!("TLS server name {:?}: {e}", settings.server_name))?;
    Ok(Client {
        config: client_config(settings.verify, settings.ca_file.as_deref())?,
        server_name,
    })
}

/// A client configuration (TLS 1.2 and 1.3, ring) that verifies the peer against Mozilla's
/// roots and the certificates of `ca_file`, or, with `verify` false, accepts any certificate.
pub fn client_config(
    verify: bool,
    ca_file: Option<&std::path::Path>,
) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = if verify {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("CA file {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("CA file {}: no certificate", path.display()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("CA file {}: {e}", path.display()))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Accepts any certificate but still checks the handshake signatures (so the session is
/// encrypted to whoever holds the key the certificate names, whoever that is).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
