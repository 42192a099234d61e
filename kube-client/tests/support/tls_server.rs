//! A test PKI (made with rcgen) and a small HTTPS server on 127.0.0.1 that reports what it
//! saw: the `Authorization` header, which known client certificate was presented, and the
//! HTTP version.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate and its key, in PEM and DER.
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

/// A certificate authority that issues server and client certificates.
pub struct Ca {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `names` (DNS names or IP addresses).
    pub fn issue(&self, common_name: &str, names: &[&str]) -> Identity {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, common_name);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }
}

/// What the server should do.
pub struct ServerOptions<'a> {
    /// The server's certificate.
    pub identity: &'a Identity,
    /// When set, clients must present a certificate issued by this CA.
    pub require_client_cert_from: Option<&'a Ca>,
    /// Known client certificates (DER) and the names the server reports for them.
    pub known_clients: Vec<(Vec<u8>, String)>,
    /// Requests carrying exactly this `Authorization` value are answered 401.
    pub reject_authorization: Option<String>,
}

/// What the server reports as JSON.
#[derive(Debug, serde::Deserialize)]
pub struct Seen {
    pub authorization: Option<String>,
    pub client: Option<String>,
    pub version: String,
}

/// Starts the server on a random port of 127.0.0.1; it runs until the test's runtime stops.
pub async fn serve(options: ServerOptions<'_>) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match options.require_client_cert_from {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(CertificateDer::from(ca.cert_der.clone())).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(options.identity.key_der.clone()));
    let mut config = builder
        .with_single_cert(vec![CertificateDer::from(options.identity.cert_der.clone())], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let known = Arc::new(options.known_clients);
    let reject = Arc::new(options.reject_authorization);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let known = known.clone();
            let reject = reject.clone();
            tokio::spawn(async move {
                // Handshake failures (untrusted or missing client certificates) end here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let peer = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec());
                let client =
                    peer.and_then(|der| known.iter().find(|(k, _)| *k == der).map(|(_, n)| n.clone()));
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let client = client.clone();
                    let reject = reject.clone();
                    async move { Ok::<_, std::convert::Infallible>(respond(&req, client, reject.as_deref())) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

fn respond(req: &Request<Incoming>, client: Option<String>, reject: Option<&str>) -> Response<Body> {
    let authorization = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_string());
    if authorization.is_some() && authorization.as_deref() == reject {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .body(Body::empty())
            .unwrap();
    }
    let seen = serde_json::json!({
        "authorization": authorization,
        "client": client,
        "version": format!("{:?}", req.version()),
    });
    Response::new(Body::from(seen.to_string()))
}
