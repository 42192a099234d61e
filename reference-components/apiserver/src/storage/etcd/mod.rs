//! `EtcdStorage`: the [`Storage`] trait on a real etcd cluster (cargo feature `etcd`), so that
//! several apiservers can serve one cluster side by side, as kube-apiserver does.
//!
//! # Mapping
//!
//! The trait *is* etcd's model, so the mapping is direct:
//!
//! - a key `/registry/pods/default/web` is stored at `{prefix}/registry/pods/default/web` (the
//!   prefix is empty by default, so `etcdctl get --prefix /registry/pods/default/` lists the pods
//!   of the default namespace); values are the apiserver's JSON, unchanged;
//! - the store revision and every `resourceVersion` are etcd's revisions;
//! - `create` is a transaction `if create_revision(key) == 0 then put`; `update` and `delete`
//!   with an expected revision are `if mod_revision(key) == expected then put/delete else get`,
//!   the `get` telling a [`Conflict`](Error::Conflict) from a [`NotFound`](Error::NotFound);
//! - `list` is a range read at one revision (the first page's, for later pages), fetched from
//!   etcd in pages of at most [`EtcdConfig::page_size`] keys so that no response grows with the
//!   cluster; `remaining` is etcd's count minus what was returned;
//! - `watch(prefix, from)` is an etcd watch from `from + 1` with previous values (a delete
//!   event carries the deleted object) and progress notifications; a start revision below
//!   etcd's compaction point is [`Error::Expired`], above the current one
//!   [`Error::FutureRevision`];
//! - `compact` is etcd's compaction (several apiservers compacting one etcd is harmless: the
//!   later one answers `Expired`, which the compactor takes as done).
//!
//! # Failure
//!
//! Every call is bounded by [`EtcdConfig::request_timeout`]; a call that cannot reach etcd, or
//! does not get an answer in time, fails with [`Error::Unavailable`] (503 to clients). A write
//! that timed out may still have been applied, as with kube-apiserver: clients re-read. The
//! connection is re-established by itself when etcd comes back; watches that lose it end with
//! an error (HTTP/2 keepalive notices a silent etcd), and the watch cache starts a new one.

mod watch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, KvClient, PutOptions, Txn, TxnOp,
    TxnOpResponse, WatchClient,
};

use super::compactor::{CompactionPolicy, spawn_compactor};
use super::{Error, KeyValue, ListOptions, ListResult, Result, Revision, Storage, WatchStream};

/// How to reach etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Prepended to every key: `/cluster-a` stores `/registry/pods/default/web` at
    /// `/cluster-a/registry/pods/default/web`. Empty (the default) or starting with `/`.
    pub prefix: String,
    /// The longest any call may take before it fails with [`Error::Unavailable`].
    pub request_timeout: Duration,
    /// The longest a connection attempt may take.
    pub dial_timeout: Duration,
    /// HTTP/2 keepalive: ping every `.0`, give the connection up after `.1` without an answer.
    /// This is what ends a watch on an etcd that stopped answering without closing.
    pub keepalive: (Duration, Duration),
    /// At most this many keys per range request of a list.
    pub page_size: usize,
    /// TLS to etcd (`https://` endpoints).
    pub tls: Option<EtcdTls>,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: String::new(),
            request_timeout: Duration::from_secs(5),
            dial_timeout: Duration::from_secs(2),
            keepalive: (Duration::from_secs(5), Duration::from_secs(5)),
            page_size: 1000,
            tls: None,
        }
    }
}

/// TLS files for etcd, as kube-apiserver's `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtcdTls {
    /// CA bundle that signed etcd's serving certificate (PEM).
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), for etcd's `--client-cert-auth`.
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM).
    pub key_file: Option<PathBuf>,
}

/// A [`Storage`] on etcd. Cheap to clone; clones share the connection.
///
/// ```no_run
/// # use reference_apiserver::storage::{Storage, etcd::{EtcdConfig, EtcdStorage}};
/// # async fn run() -> reference_apiserver::storage::Result<()> {
/// let store = EtcdStorage::connect(EtcdConfig {
///     endpoints: vec!["http://127.0.0.1:2379".into()],
///     ..EtcdConfig::default()
/// })
/// .await?;
/// let kv = store.create("/registry/pods/default/web", "{}".into()).await?;
/// assert_eq!(store.revision().await?, kv.mod_revision);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EtcdStorage {
    kv: KvClient,
    watch: WatchClient,
    prefix: Arc<str>,
    timeout: Duration,
    page_size: usize,
}

impl std::fmt::Debug for EtcdStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStorage")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Responses may hold many events or a page of large objects; etcd accepts values up to
/// 1.5 MiB by default.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

impl EtcdStorage {
    /// Connects to etcd. The connection is made lazily and re-made whenever it breaks, so this
    /// succeeds while etcd is down; [`Storage::revision`] checks that it is up.
    pub async fn connect(config: EtcdConfig) -> Result<Self> {
        check_prefix(&config.prefix)?;
        if config.endpoints.is_empty() {
            return Err(Error::Backend("no etcd endpoints given".to_owned()));
        }
        let mut options = ConnectOptions::new()
            .with_connect_timeout(config.dial_timeout)
            .with_keep_alive(config.keepalive.0, config.keepalive.1)
            .with_keep_alive_while_idle(true);
        if let Some(tls) = &config.tls {
            options = options.with_tls(tls_options(tls)?);
        }
        let client = Client::connect(&config.endpoints, Some(options))
            .await
            .map_err(|e| Error::Backend(format!("etcd client for {:?}: {e}", config.endpoints)))?;
        tracing::info!(endpoints = ?config.endpoints, prefix = %config.prefix, "etcd storage");
        Ok(EtcdStorage {
            kv: client.kv_client().max_decoding_message_size(MAX_MESSAGE),
            watch: client.watch_client().max_decoding_message_size(MAX_MESSAGE),
            prefix: config.prefix.into(),
            timeout: config.request_timeout,
            page_size: config.page_size.max(1),
        })
    }

    /// The same etcd connection under another key prefix: a separate key space (tests give each
    /// case a fresh one), sharing the store revision.
    pub fn with_prefix(&self, prefix: &str) -> Result<Self> {
        check_prefix(prefix)?;
        Ok(EtcdStorage {
            prefix: prefix.into(),
            ..self.clone()
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn etcd_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The trait key of an etcd key, or an error for a key outside the prefix.
    fn trait_key(&self, etcd_key: &[u8]) -> Result<String> {
        std::str::from_utf8(etcd_key)
            .ok()
            .and_then(|k| k.strip_prefix(&*self.prefix))
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Backend(format!(
                    "etcd key {:?} is not UTF-8 under prefix {:?}",
                    String::from_utf8_lossy(etcd_key),
                    self.prefix
                ))
            })
    }

    fn key_value(&self, kv: &etcd_client::KeyValue) -> Result<KeyValue> {
        Ok(KeyValue {
            key: self.trait_key(kv.key())?,
            value: Bytes::copy_from_slice(kv.value()),
            create_revision: kv.create_revision() as Revision,
            mod_revision: kv.mod_revision() as Revision,
        })
    }

    /// Runs one etcd call within the request timeout.
    async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(Failure::from),
            Err(_) => Err(Failure::Other(Error::Unavailable(format!(
                "etcd did not answer {what} within {:?}",
                self.timeout
            )))),
        }
    }

    async fn txn(&self, what: &str, txn: Txn) -> Result<etcd_client::TxnResponse> {
        let mut kv = self.kv.clone();
        self.call(what, kv.txn(txn)).await.map_err(|f| f.plain())
    }

    /// The compaction point, for the `compacted` field of [`Error::Expired`].
    async fn compaction_point(&self, fallback: Revision) -> Revision {
        watch::compaction_point(self, fallback).await
    }

    /// Maps a failure of a read or compaction at `revision`.
    async fn at_revision_error(&self, failure: Failure, revision: Revision) -> Error {
        match failure {
            Failure::Compacted => Error::Expired {
                requested: revision,
                compacted: self.compaction_point(revision + 1).await,
            },
            Failure::FutureRevision => Error::FutureRevision {
                requested: revision,
                current: self.revision().await.unwrap_or(0),
            },
            Failure::Other(e) => e,
        }
    }

    /// Fails a conditional write that did not apply: the key is missing, or at `actual`.
    fn failed_write(&self, key: &str, expected: Revision, resp: &etcd_client::TxnResponse) -> Error {
        let current = resp.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.mod_revision() as Revision),
            _ => None,
        });
        match current {
            None => Error::NotFound { key: key.to_owned() },
            Some(actual) => Error::Conflict {
                key: key.to_owned(),
                expected,
                actual,
            },
        }
    }
}

fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() || (prefix.starts_with('/') && !prefix.ends_with('/')) {
        Ok(())
    } else {
        Err(Error::Backend(format!(
            "etcd prefix {prefix:?} must be empty or start with '/' and not end with '/'"
        )))
    }
}

fn tls_options(tls: &EtcdTls) -> Result<etcd_client::TlsOptions> {
    let read = |path: &PathBuf| {
        std::fs::read(path).map_err(|e| Error::Backend(format!("reading {}: {e}", path.display())))
    };
    let mut options = etcd_client::TlsOptions::new();
    if let Some(ca) = &tls.ca_file {
        options = options.ca_certificate(etcd_client::Certificate::from_pem(read(ca)?));
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            options = options.identity(etcd_client::Identity::from_pem(read(cert)?, read(key)?));
        }
        (None, None) => {}
        _ => {
            return Err(Error::Backend(
                "an etcd client certificate needs both a certificate and a key file".to_owned(),
            ));
        }
    }
    Ok(options)
}

/// The end of the range of keys starting with `prefix` (etcd's `range_end` for a prefix).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// An etcd call failure, before the caller turns it into an [`Error`].
#[derive(Debug)]
enum Failure {
    /// "required revision has been compacted".
    Compacted,
    /// "required revision is a future revision".
    FutureRevision,
    /// Anything else, mapped already.
    Other(Error),
}

impl Failure {
    /// For calls that read no old revision.
    fn plain(self) -> Error {
        match self {
            Failure::Compacted => Error::Backend("etcd: revision compacted".to_owned()),
            Failure::FutureRevision => Error::Backend("etcd: future revision".to_owned()),
            Failure::Other(e) => e,
        }
    }
}

impl From<etcd_client::Error> for Failure {
    fn from(e: etcd_client::Error) -> Self {
        use etcd_client::Error as E;
        use tonic::Code;
        match e {
            E::GRpcStatus(status) => {
                let message = status.message();
                if message.contains("required revision has been compacted") {
                    Failure::Compacted
                } else if message.contains("required revision is a future revision") {
                    Failure::FutureRevision
                } else if matches!(
                    status.code(),
                    Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
                ) || message.contains("request timed out")
                    || message.contains("leader")
                {
                    Failure::Other(Error::Unavailable(format!("etcd: {message}")))
                } else {
                    Failure::Other(Error::Backend(format!("etcd: {message}")))
                }
            }
            E::TransportError(e) => Failure::Other(Error::Unavailable(format!("etcd: {e}"))),
            E::IoError(e) => Failure::Other(Error::Unavailable(format!("etcd: {e}"))),
            E::WatchError(e) => Failure::Other(Error::Unavailable(format!("etcd watch: {e}"))),
            other => Failure::Other(Error::Backend(format!("etcd: {other}"))),
        }
    }
}

/// Connects to etcd and starts automatic compaction with `compaction`, if any (the
/// `--storage etcd` of `ref-apiserver`).
pub async fn open(config: EtcdConfig, compaction: Option<CompactionPolicy>) -> Result<Arc<dyn Storage>> {
    let storage: Arc<dyn Storage> = Arc::new(EtcdStorage::connect(config).await?);
    if let Some(policy) = compaction {
        spawn_compactor(Arc::downgrade(&storage), policy);
    }
    Ok(storage)
}

/// kube-apiserver's `--etcd-compaction-interval`: every `interval`, compact to the revision
/// seen one interval earlier, so that between one and two intervals of history stay (5 minutes
/// by default). `None` for a zero interval: no compaction.
pub fn compaction_policy(interval: Duration) -> Option<CompactionPolicy> {
    (!interval.is_zero()).then_some(CompactionPolicy {
        keep_revisions: 0,
        keep_for: interval,
        max_revisions: u64::MAX,
        interval,
    })
}

#[async_trait::async_trait]
impl Storage for EtcdStorage {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let mut kv = self.kv.clone();
        let resp = self
            .call("a get", kv.get(self.etcd_key(key), None))
            .await
            .map_err(Failure::plain)?;
        resp.kvs().first().map(|kv| self.key_value(kv)).transpose()
    }

    async fn list(&self, prefix: &str, opts: &ListOptions) -> Result<ListResult> {
        let full = self.etcd_key(prefix).into_bytes();
        let end = prefix_end(&full);
        let mut start = full;
        if let Some(after) = &opts.start_after {
            let mut after = self.etcd_key(after).into_bytes();
            after.push(0);
            start = start.max(after);
        }
        let wanted = opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut revision = opts.revision.unwrap_or(0);
        let mut items = Vec::new();
        loop {
            let page = (wanted - items.len()).min(self.page_size);
            let options = GetOptions::new()
                .with_range(end.clone())
                .with_limit(page as i64)
                .with_revision(revision as i64);
            let mut kv = self.kv.clone();
            let resp = match self.call("a list", kv.get(start.clone(), Some(options))).await {
                Ok(resp) => resp,
                Err(failure) if revision > 0 => {
                    return Err(self.at_revision_error(failure, revision).await);
                }
                Err(failure) => return Err(failure.plain()),
            };
            if revision == 0 {
                // Later pages read at the first one's revision.
                revision = resp.header().map_or(0, |h| h.revision()) as Revision;
            }
            for kv in resp.kvs() {
                items.push(self.key_value(kv)?);
            }
            let rest = (resp.count() as u64).saturating_sub(resp.kvs().len() as u64);
            match resp.kvs().last() {
                Some(last) if resp.more() && items.len() < wanted => {
                    start = last.key().to_vec();
                    start.push(0);
                }
                _ => {
                    return Ok(ListResult {
                        items,
                        revision,
                        remaining: rest,
                    });
                }
            }
        }
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let etcd_key = self.etcd_key(key);
        let txn = Txn::new()
            .when([Compare::create_revision(etcd_key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(etcd_key, value.to_vec(), None)]);
        let resp = self.txn("a create", txn).await?;
        if !resp.succeeded() {
            return Err(Error::AlreadyExists { key: key.to_owned() });
        }
        let revision = header_revision(&resp)?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        })
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        let etcd_key = self.etcd_key(key);
        let txn = Txn::new()
            .when([
                Compare::mod_revision(etcd_key.clone(), CompareOp::Equal, expected as i64),
                Compare::create_revision(etcd_key.clone(), CompareOp::Greater, 0),
            ])
            .and_then([TxnOp::put(
                etcd_key.clone(),
                value.to_vec(),
                Some(PutOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(etcd_key, Some(GetOptions::new().with_keys_only()))]);
        let resp = self.txn("an update", txn).await?;
        if !resp.succeeded() {
            return Err(self.failed_write(key, expected, &resp));
        }
        let create_revision = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Put(put) => put.prev_key().map(|kv| kv.create_revision() as Revision),
                _ => None,
            })
            .ok_or_else(|| Error::Backend("etcd: an update without a previous value".to_owned()))?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision,
            mod_revision: header_revision(&resp)?,
        })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let etcd_key = self.etcd_key(key);
        let mut compare = vec![Compare::create_revision(etcd_key.clone(), CompareOp::Greater, 0)];
        if let Some(expected) = expected {
            compare.push(Compare::mod_revision(
                etcd_key.clone(),
                CompareOp::Equal,
                expected as i64,
            ));
        }
        let txn = Txn::new()
            .when(compare)
            .and_then([TxnOp::delete(
                etcd_key.clone(),
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(etcd_key, Some(GetOptions::new().with_keys_only()))]);
        let resp = self.txn("a delete", txn).await?;
        if !resp.succeeded() {
            return Err(self.failed_write(key, expected.unwrap_or(0), &resp));
        }
        let prev = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Delete(delete) => delete.prev_kvs().first().cloned(),
                _ => None,
            })
            .ok_or_else(|| Error::Backend("etcd: a delete without a previous value".to_owned()))?;
        let mut kv = self.key_value(&prev)?;
        kv.mod_revision = header_revision(&resp)?;
        Ok(kv)
    }

    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        watch::watch(self, prefix, from).await
    }

    async fn revision(&self) -> Result<Revision> {
        let mut kv = self.kv.clone();
        let resp = self
            .call(
                "a revision read",
                kv.get(
                    self.etcd_key("/registry/"),
                    Some(GetOptions::new().with_count_only()),
                ),
            )
            .await
            .map_err(Failure::plain)?;
        resp.header()
            .map(|h| h.revision() as Revision)
            .ok_or_else(|| Error::Backend("etcd: a response without a header".to_owned()))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let mut kv = self.kv.clone();
        match self.call("a compaction", kv.compact(revision as i64, None)).await {
            Ok(_) => Ok(()),
            Err(failure) => Err(self.at_revision_error(failure, revision).await),
        }
    }

    fn health_check_name(&self) -> &'static str {
        "etcd"
    }
}

fn header_revision(resp: &etcd_client::TxnResponse) -> Result<Revision> {
    resp.header()
        .map(|h| h.revision() as Revision)
        .ok_or_else(|| Error::Backend("etcd: a response without a header".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_key_after_the_prefix() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0");
        assert_eq!(prefix_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), b"\0");
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("/cluster-a").is_ok());
        assert!(check_prefix("cluster-a").is_err());
        assert!(check_prefix("/cluster-a/").is_err());
    }

    #[test]
    fn etcd_errors_map_to_storage_errors() {
        let status = |code, msg: &str| etcd_client::Error::GRpcStatus(tonic::Status::new(code, msg));
        assert!(matches!(
            Failure::from(status(
                tonic::Code::OutOfRange,
                "etcdserver: mvcc: required revision has been compacted"
            )),
            Failure::Compacted
        ));
        assert!(matches!(
            Failure::from(status(
                tonic::Code::OutOfRange,
                "etcdserver: mvcc: required revision is a future revision"
            )),
            Failure::FutureRevision
        ));
        assert!(matches!(
            Failure::from(status(tonic::Code::Unavailable, "connection refused")).plain(),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Failure::from(status(
                tonic::Code::InvalidArgument,
                "etcdserver: request is too large"
            ))
            .plain(),
            Error::Backend(_)
        ));
    }
}
