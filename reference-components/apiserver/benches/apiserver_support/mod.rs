//! Helpers of the apiserver benchmark: the `ref-apiserver` binary as a child process, clients,
//! `/proc` readings (RSS, CPU, file descriptor limit), percentiles and the benchmark objects.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube_client::{Client, Config};
use serde_json::json;

#[allow(dead_code)] // the tests' signals and raw log reads
#[path = "../../tests/support/process.rs"]
mod process;
#[allow(unused_imports)] // each bench uses its own part
pub use process::{BINARY, Backend, ServerProcess};

/// A client for `url`: no client-side rate limit (the benchmark decides the load) and no
/// retries (a retried request would hide a failure).
pub fn client(url: &str) -> Client {
    let mut config = Config::new(url.parse().expect("server URL"));
    config.qps = None;
    config.max_retries = 0;
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(Duration::from_secs(120));
    Client::new(config).expect("client")
}

/// What a child server has used, read from `/proc`.
pub trait ProcessUsage {
    /// Resident memory now, in bytes.
    fn rss(&self) -> u64;
    /// Peak resident memory so far, in bytes.
    fn peak_rss(&self) -> u64;
    /// CPU time it has used (user + system).
    fn cpu(&self) -> Duration;
}

impl ProcessUsage for ServerProcess {
    fn rss(&self) -> u64 {
        status_kib(&format!("/proc/{}/status", self.pid()), "VmRSS") * 1024
    }

    fn peak_rss(&self) -> u64 {
        status_kib(&format!("/proc/{}/status", self.pid()), "VmHWM") * 1024
    }

    fn cpu(&self) -> Duration {
        stat_cpu(&format!("/proc/{}/stat", self.pid()))
    }
}

/// A `kB` field of a `/proc/.../status` file.
pub fn status_kib(file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resident memory of this process, in bytes.
pub fn self_rss() -> u64 {
    status_kib("/proc/self/status", "VmRSS") * 1024
}

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

/// user + system time from a `/proc/.../stat` file (fields 14 and 15, after the command name,
/// which may contain spaces, in parentheses).
pub fn stat_cpu(file: &str) -> Duration {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let Some(rest) = text.rfind(')').map(|i| &text[i + 1..]) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15.
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(14) + ticks(15)) * 1000 / TICKS_PER_SECOND)
}

/// CPU time of this process.
pub fn self_cpu() -> Duration {
    stat_cpu("/proc/self/stat")
}

/// CPU time of this process's threads named `name` (e.g. `storage-writer`).
pub fn self_threads_cpu(name: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .map(|t| stat_cpu(&t.path().join("stat").to_string_lossy()))
        .sum()
}

/// The soft limit of open files of this process (`ulimit -n`).
pub fn open_files_limit() -> u64 {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(1024)
}

/// Total size of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Latency percentiles of a sample.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Sample size.
    pub n: usize,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
    /// Mean.
    pub mean: Duration,
}

impl Percentiles {
    /// Of `sample` (sorted in place).
    pub fn of(sample: &mut [Duration]) -> Self {
        if sample.is_empty() {
            return Self::default();
        }
        sample.sort_unstable();
        let n = sample.len();
        let at = |q: f64| sample[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        let total: Duration = sample.iter().sum();
        Self {
            n,
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: sample[n - 1],
            mean: total / n as u32,
        }
    }

    /// Of a sample in nanoseconds (sorted in place).
    pub fn of_nanos(sample: &mut [u64]) -> Self {
        if sample.is_empty() {
            return Self::default();
        }
        sample.sort_unstable();
        let n = sample.len();
        let at = |q: f64| Duration::from_nanos(sample[((q * n as f64).ceil() as usize).clamp(1, n) - 1]);
        let total: u128 = sample.iter().map(|&v| v as u128).sum();
        Self {
            n,
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: Duration::from_nanos(sample[n - 1]),
            mean: Duration::from_nanos((total / n as u128) as u64),
        }
    }
}

/// Milliseconds with two decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Microseconds, for tables.
pub fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

/// Bytes as MiB.
pub fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// A pod as a Deployment's template would make it: labels, annotations, an application
/// container and a sidecar with env, ports, resources, probes and mounts. About 2 KB of JSON
/// as sent (the server's defaults add some more).
pub fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/name": "checkout",
                "app.kubernetes.io/instance": "checkout-prod",
                "app.kubernetes.io/version": "1.24.3",
                "app.kubernetes.io/component": "api",
                "app.kubernetes.io/part-of": "shop",
                "pod-template-hash": "7d9f8c6b5d"
            },
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9090",
                "prometheus.io/path": "/metrics",
                "checksum/config": "9f2c4e1a7b3d5f60818a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e",
                "kubectl.kubernetes.io/default-container": "api"
            }
        },
        "spec": {
            "serviceAccountName": "checkout",
            "terminationGracePeriodSeconds": 45,
            "nodeSelector": {"kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m5.xlarge"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "shop", "effect": "NoSchedule"}],
            "containers": [
                {
                    "name": "api",
                    "image": "registry.example.com/shop/checkout-api:1.24.3",
                    "args": ["--config=/etc/checkout/config.yaml", "--listen=:8080", "--metrics=:9090"],
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}
                    ],
                    "env": [
                        {"name": "LOG_LEVEL", "value": "info"},
                        {"name": "DATABASE_URL", "value": "postgres://checkout@db.shop.svc:5432/checkout"},
                        {"name": "CACHE_ADDR", "value": "redis.shop.svc:6379"},
                        {"name": "FEATURE_FLAGS", "value": "fast-checkout,async-receipts"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
                    ],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                        "limits": {"cpu": "1", "memory": "512Mi"}
                    },
                    "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5},
                    "livenessProbe": {"httpGet": {"path": "/livez", "port": 8080}, "initialDelaySeconds": 10},
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/checkout", "readOnly": true}]
                },
                {
                    "name": "proxy",
                    "image": "registry.example.com/infra/envoy:1.31.2",
                    "args": ["-c", "/etc/envoy/envoy.yaml", "--log-level", "warn"],
                    "ports": [{"name": "proxy", "containerPort": 15001, "protocol": "TCP"}],
                    "env": [{"name": "ENVOY_UID", "value": "1337"}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "128Mi"}
                    },
                    "volumeMounts": [{"name": "envoy", "mountPath": "/etc/envoy", "readOnly": true}]
                }
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": "checkout-config"}},
                {"name": "envoy", "configMap": {"name": "checkout-envoy"}}
            ]
        }
    }))
    .expect("the benchmark pod is a valid Pod")
}

/// A small ConfigMap (a couple of hundred bytes stored).
pub fn small_configmap(name: &str, i: usize) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "bench", "shard": format!("s{}", i % 16)}},
        "data": {"index": i.to_string(), "value": format!("value-{i:08}")}
    }))
    .expect("valid ConfigMap")
}
