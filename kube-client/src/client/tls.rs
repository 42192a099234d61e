//! TLS: rustls client configuration from a [`Config`].
//!
//! [`rustls_config`] builds the `rustls::ClientConfig` the HTTP client uses, always with the
//! `ring` crypto provider (never the process default):
//!
//! - trust roots: [`Config::root_cert`](crate::Config::root_cert) when set, else the Mozilla
//!   roots of `webpki-roots`;
//! - `accept_invalid_certs` (`insecure-skip-tls-verify`): any server certificate is accepted
//!   (handshake signatures are still checked);
//! - `tls_server_name`: the certificate is verified against that name instead of the URL's
//!   host (the SNI sent is still the URL's host);
//! - a client certificate from a [`ResolvesClientCert`], normally
//!   [`Auth::client_cert_resolver`](super::auth::Auth::client_cert_resolver), which serves a
//!   kubeconfig certificate or the latest one an exec plugin returned;
//! - ALPN `h2` then `http/1.1`.
//!
//! ```no_run
//! # fn run(config: kube_client::Config) -> Result<(), Box<dyn std::error::Error>> {
//! use kube_client::client::{auth::Auth, tls};
//! let auth = Auth::new(&config.auth_info)?;
//! let tls = tls::rustls_config(&config, auth.client_cert_resolver())?;
//! let http = reqwest::Client::builder().tls_backend_preconfigured(tls).build()?;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::config::{AuthInfo, Config};

/// Why a TLS configuration or a client certificate could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("failed to read {field} file {}: {source}", path.display())]
    ReadFile {
        /// The kubeconfig field naming the file, e.g. `client-key`.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `*-data` field is not base64.
    #[error("{field} is not valid base64: {source}")]
    Base64 {
        /// The field, e.g. `client-certificate-data`.
        field: &'static str,
        /// The decoding error.
        #[source]
        source: base64::DecodeError,
    },
    /// PEM text could not be parsed or held nothing of the expected kind.
    #[error("{field} does not contain a valid PEM {what}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Pem {
        /// The field or file the PEM came from.
        field: &'static str,
        /// `certificate` or `private key`.
        what: &'static str,
        /// Details from the parser, if any.
        reason: Option<String>,
    },
    /// Only half of a certificate/key pair was given.
    #[error("{present} is set but {missing} is missing")]
    IncompletePair {
        /// The field that is set.
        present: &'static str,
        /// The field that is missing.
        missing: &'static str,
    },
    /// The private key is unsupported or does not match the certificate.
    #[error("invalid client certificate/key pair: {0}")]
    KeyPair(#[source] rustls::Error),
    /// A trusted root certificate is not a valid X.509 certificate.
    #[error("invalid root certificate #{index}: {source}")]
    RootCertificate {
        /// The position in `Config::root_cert`.
        index: usize,
        /// Why rustls rejected it.
        #[source]
        source: rustls::Error,
    },
    /// `tls_server_name` is not a DNS name or IP address.
    #[error("invalid tls-server-name {name:?}: {source}")]
    ServerName {
        /// The configured name.
        name: String,
        /// The parse error.
        #[source]
        source: rustls_pki_types::InvalidDnsNameError,
    },
    /// rustls refused the configuration.
    #[error("failed to build the TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The certificate verifier could not be built.
    #[error("failed to build the TLS certificate verifier: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

/// The crypto provider used for everything here: `ring`.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls client configuration for `config`, presenting the client certificate
/// `client_cert` serves (if any). Hand the result to
/// `reqwest::ClientBuilder::tls_backend_preconfigured`.
pub fn rustls_config(
    config: &Config,
    client_cert: Option<Arc<dyn ResolvesClientCert>>,
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = crypto_provider();
    let verifier: Arc<dyn ServerCertVerifier> = if config.accept_invalid_certs {
        Arc::new(AcceptAnyServerCert {
            algorithms: provider.signature_verification_algorithms,
        })
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &config.root_cert {
            Some(certs) => {
                for (index, der) in certs.iter().enumerate() {
                    roots
                        .add(CertificateDer::from(der.clone()))
                        .map_err(|source| TlsError::RootCertificate { index, source })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
        match &config.tls_server_name {
            Some(name) => {
                let name = ServerName::try_from(name.clone()).map_err(|source| TlsError::ServerName {
                    name: name.clone(),
                    source,
                })?;
                Arc::new(FixedServerName { inner: webpki, name })
            }
            None => webpki,
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut tls = match client_cert {
        Some(resolver) => builder.with_client_cert_resolver(resolver),
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

/// Parses every certificate in a PEM bundle; fails if there is none. `field` names the
/// source in errors.
pub fn pem_certificates(pem: &[u8], field: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            field,
            what: "certificate",
            reason: Some(e.to_string()),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            field,
            what: "certificate",
            reason: None,
        });
    }
    Ok(certs)
}

/// Parses a PEM certificate chain and private key (PKCS#1 RSA, PKCS#8 or SEC1 EC) into a
/// key pair rustls can present, checking that they belong together.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = pem_certificates(cert_pem, "client certificate")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
        field: "client key",
        what: "private key",
        reason: Some(e.to_string()),
    })?;
    let key = CertifiedKey::from_der(chain, key, &crypto_provider()).map_err(TlsError::KeyPair)?;
    Ok(Arc::new(key))
}

/// Loads the client certificate of a kubeconfig user (`client-certificate(-data)` and
/// `client-key(-data)`; the `-data` fields win). `None` when the user has neither.
pub fn load_client_certificate(auth_info: &AuthInfo) -> Result<Option<Arc<CertifiedKey>>, TlsError> {
    let cert = read_data_or_file(
        auth_info.client_certificate_data.as_deref(),
        "client-certificate-data",
        auth_info.client_certificate.as_deref(),
        "client-certificate",
    )?;
    let key = read_data_or_file(
        auth_info.client_key_data.as_deref(),
        "client-key-data",
        auth_info.client_key.as_deref(),
        "client-key",
    )?;
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(TlsError::IncompletePair {
            present: "client-certificate",
            missing: "client-key",
        }),
        (None, Some(_)) => Err(TlsError::IncompletePair {
            present: "client-key",
            missing: "client-certificate",
        }),
        (Some(cert), Some(key)) => certified_key(&cert, &key).map(Some),
    }
}

/// Reads a base64 `-data` field, or else the file it overrides.
pub(crate) fn read_data_or_file(
    data: Option<&str>,
    data_field: &'static str,
    file: Option<&Path>,
    file_field: &'static str,
) -> Result<Option<Vec<u8>>, TlsError> {
    if let Some(data) = data.filter(|d| !d.trim().is_empty()) {
        return decode_base64(data).map(Some).map_err(|source| TlsError::Base64 {
            field: data_field,
            source,
        });
    }
    match file.filter(|f| !f.as_os_str().is_empty()) {
        Some(path) => std::fs::read(path)
            .map(Some)
            .map_err(|source| TlsError::ReadFile {
                field: file_field,
                path: path.to_path_buf(),
                source,
            }),
        None => Ok(None),
    }
}

/// Decodes standard base64, tolerating line breaks and surrounding white space.
pub(crate) fn decode_base64(data: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact)
}

/// A client certificate that can change while connections are being made: a
/// [`ResolvesClientCert`] whose key pair is replaced when an exec plugin returns a new one.
#[derive(Debug, Default)]
pub struct ClientCertStore {
    current: RwLock<Option<Arc<CertifiedKey>>>,
    generation: AtomicU64,
}

impl ClientCertStore {
    /// A store holding `initial`.
    pub fn new(initial: Option<Arc<CertifiedKey>>) -> Self {
        Self {
            current: RwLock::new(initial),
            generation: AtomicU64::new(0),
        }
    }

    /// The certificate presented to servers now.
    pub fn get(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the certificate; returns whether it changed (and then bumps the generation).
    pub fn set(&self, key: Option<Arc<CertifiedKey>>) -> bool {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let same = match (&*current, &key) {
            (None, None) => true,
            (Some(a), Some(b)) => a.cert == b.cert,
            _ => false,
        };
        if !same {
            *current = key;
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        !same
    }

    /// Counts certificate changes; a client may rebuild its connection pool when it moves,
    /// since pooled connections keep the certificate they were opened with.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

impl ResolvesClientCert for ClientCertStore {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.get()
    }

    fn has_certs(&self) -> bool {
        // The certificate may arrive later (exec plugins), so always offer client auth.
        true
    }
}

/// Verifies the server certificate against a fixed name (`tls-server-name`).
#[derive(Debug)]
struct FixedServerName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedServerName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts any server certificate (`insecure-skip-tls-verify`), but still checks that the
/// server holds the key of the certificate it sent.
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn builds_with_web_roots_and_alpn() {
        let config = Config::new("https://example.com".parse().unwrap());
        let tls = rustls_config(&config, None).unwrap();
        assert_eq!(tls.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    }

    #[test]
    fn rejects_invalid_root_and_server_name() {
        let mut config = Config::new("https://example.com".parse().unwrap());
        config.root_cert = Some(vec![b"not a certificate".to_vec()]);
        let err = rustls_config(&config, None).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid root certificate #0"),
            "{err}"
        );
        config.root_cert = None;
        config.tls_server_name = Some("bad name!".into());
        let err = rustls_config(&config, None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid tls-server-name \"bad name!\""),
            "{err}"
        );
    }

    #[test]
    fn loads_key_pairs_from_data_and_checks_them() {
        let (cert, key) = self_signed();
        let (_, other_key) = self_signed();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let info = AuthInfo {
            client_certificate_data: Some(b64(&cert)),
            client_key_data: Some(b64(&key)),
            ..Default::default()
        };
        assert!(load_client_certificate(&info).unwrap().is_some());
        let mismatched = AuthInfo {
            client_key_data: Some(b64(&other_key)),
            ..info.clone()
        };
        let err = load_client_certificate(&mismatched).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid client certificate/key pair"),
            "{err}"
        );
        let half = AuthInfo {
            client_key_data: None,
            ..info
        };
        let err = load_client_certificate(&half).unwrap_err();
        assert_eq!(
            err.to_string(),
            "client-certificate is set but client-key is missing"
        );
        let bad = AuthInfo {
            client_certificate_data: Some("%%%".into()),
            client_key_data: Some(b64(&key)),
            ..Default::default()
        };
        let err = load_client_certificate(&bad).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("client-certificate-data is not valid base64"),
            "{err}"
        );
    }

    #[test]
    fn missing_files_are_named() {
        let info = AuthInfo {
            client_certificate: Some("/nonexistent/cert.pem".into()),
            client_key: Some("/nonexistent/key.pem".into()),
            ..Default::default()
        };
        let err = load_client_certificate(&info).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("failed to read client-certificate file /nonexistent/cert.pem: "),
            "{err}"
        );
    }

    #[test]
    fn pem_without_certificates_is_an_error() {
        let err = pem_certificates(b"hello", "certificate-authority-data").unwrap_err();
        assert_eq!(
            err.to_string(),
            "certificate-authority-data does not contain a valid PEM certificate"
        );
    }

    #[test]
    fn store_counts_changes() {
        let (cert, key) = self_signed();
        let store = ClientCertStore::default();
        let pair = certified_key(cert.as_bytes(), key.as_bytes()).unwrap();
        assert!(store.set(Some(pair.clone())));
        assert!(!store.set(Some(pair)));
        assert_eq!(store.generation(), 1);
        assert!(store.resolve(&[], &[]).is_some());
    }
}
