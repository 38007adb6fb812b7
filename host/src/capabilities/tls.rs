//! TLS configurations for the capabilities that reach out (HTTPS endpoints, `mqtts`
//! brokers) and the listener of inbound HTTP, built once per connector from the grant's files:
//! the certificates are the operator's, never the connector's.

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a grant's sessions use TLS (`tls = "disable" | "verify-full"`, spelled like libpq).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain TCP: loopback, or a network the operator trusts.
    #[default]
    Disable,
    /// TLS, certificate chain and host name verified against `ca_file`.
    VerifyFull,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} from {path}: {source}")]
    Pem {
        what: &'static str,
        path: String,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{path} holds no certificate")]
    Empty { path: String },
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

/// A grant's certificate files, resolved against the config file's folder.
#[derive(Debug, Clone)]
pub struct GrantFiles {
    pub ca_file: Option<PathBuf>,
    /// Certificate and key, together or not at all (the grants check that).
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl GrantFiles {
    pub fn resolve(
        ca_file: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
        resolve: impl Fn(&Path) -> PathBuf,
    ) -> Self {
        Self {
            ca_file: ca_file.map(&resolve),
            client_cert: cert.map(&resolve).zip(key.map(&resolve)),
        }
    }
}

/// Which certificate authorities a client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roots {
    /// The public web's (Mozilla's set), plus the grant's CA file if any.
    PublicAndFile,
    /// The grant's CA file alone when there is one, else the public web's.
    FileOrPublic,
}

pub fn client_config(
    ca_file: Option<&Path>,
    roots: Roots,
    client_cert: Option<(&Path, &Path)>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut store = RootCertStore::empty();
    if ca_file.is_none() || roots == Roots::PublicAndFile {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = ca_file {
        let certs = read_certs(path)?;
        let (added, _) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TlsError::Empty {
                path: path.display().to_string(),
            });
        }
    }
    let roots = store;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match client_cert {
        Some((cert, key)) => builder.with_client_auth_cert(read_certs(cert)?, read_key(key)?)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A listener's TLS: the chain and key from the grant, HTTP/2 and HTTP/1.1 offered by ALPN.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (chain, key) = (read_certs(cert)?, read_key(key)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsError::Pem {
        what: "a private key",
        path: path.display().to_string(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |source| TlsError::Pem {
        what: "certificates",
        path: path.display().to_string(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}
