//! Service address allocation: cluster IPs from a configurable range (by default inside
//! 127.0.0.0/8, so that local tests never leave loopback) and NodePorts from 30000-32767.
//!
//! Each apiserver keeps what it knows to be taken in memory (rebuilt from the stored services at
//! start), and makes every allocation exclusive across the apiservers sharing a storage by
//! reserving it there first: a create-if-absent of `/registry/ranges/serviceips/<ip>` or
//! `/registry/ranges/servicenodeports/<port>`. A reservation another apiserver holds makes the
//! allocation pick again (or fail, for an address the service asked for); deleting the service
//! deletes its reservations.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use kube_core::Status;
use kube_core::status::StatusCause;
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{Value, json};

use crate::storage::{Error as StorageError, Storage};

/// Where cluster IP reservations are stored.
pub const IP_RESERVATIONS: &str = "/registry/ranges/serviceips/";
/// Where NodePort reservations are stored.
pub const PORT_RESERVATIONS: &str = "/registry/ranges/servicenodeports/";

/// The NodePort range.
pub const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

/// An IPv4 range in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    base: u32,
    bits: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, bits) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR {s:?}: expected a.b.c.d/n"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|e| format!("invalid CIDR {s:?}: {e}"))?;
        let bits: u8 = bits.parse().map_err(|e| format!("invalid CIDR {s:?}: {e}"))?;
        if !(8..=30).contains(&bits) {
            return Err(format!(
                "invalid CIDR {s:?}: the prefix length must be between 8 and 30"
            ));
        }
        let mask = u32::MAX << (32 - bits);
        Ok(Cidr {
            base: u32::from(ip) & mask,
            bits,
        })
    }
}

impl Cidr {
    fn size(&self) -> u32 {
        1 << (32 - self.bits)
    }
    fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & (u32::MAX << (32 - self.bits)) == self.base
    }
    /// The first usable address (Kubernetes gives it to the `kubernetes` service).
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base + 1)
    }
}

/// What one service was given, to release on failure or deletion.
#[derive(Debug, Clone, Default)]
pub struct Allocation {
    ip: Option<Ipv4Addr>,
    ports: Vec<u16>,
}

/// The allocator.
#[derive(Debug)]
pub struct ServiceAllocator {
    range: Cidr,
    used: Mutex<(HashSet<Ipv4Addr>, HashSet<u16>)>,
}

fn invalid(name: &str, field: &str, message: String) -> Status {
    Status::invalid(
        "Service",
        name,
        vec![StatusCause {
            reason: "FieldValueInvalid".into(),
            message,
            field: field.into(),
        }],
    )
}

impl ServiceAllocator {
    /// An allocator over `range`.
    pub fn new(range: Cidr) -> Self {
        Self {
            range,
            used: Mutex::new((HashSet::new(), HashSet::new())),
        }
    }

    /// Mark what an existing service holds (at start).
    pub fn restore(&self, svc: &Value) {
        let mut used = self.used.lock();
        if let Some(ip) = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
        {
            used.0.insert(ip);
        }
        for p in node_ports(svc) {
            used.1.insert(p);
        }
    }

    /// Give a new service its cluster IP and node ports (or check the ones it asks for).
    pub fn allocate(&self, svc: &mut Value) -> Result<Allocation, Status> {
        let name = svc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let ty = svc
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        let mut used = self.used.lock();
        let mut alloc = Allocation::default();
        if ty != "ExternalName" {
            let requested = svc
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if requested != "None" {
                let ip = if requested.is_empty() {
                    let free = self.range.size().saturating_sub(2) as usize
                        - used.0.len().min(self.range.size() as usize);
                    if free == 0 {
                        return Err(Status::failure(
                            500,
                            "InternalError",
                            "Internal error occurred: failed to allocate a serviceIP: range is full",
                        ));
                    }
                    let mut rng = rand::rng();
                    loop {
                        let candidate =
                            Ipv4Addr::from(self.range.base + rng.random_range(1..self.range.size() - 1));
                        if !used.0.contains(&candidate) {
                            break candidate;
                        }
                    }
                } else {
                    let ip: Ipv4Addr = requested.parse().map_err(|_| {
                        invalid(
                            &name,
                            "spec.clusterIPs",
                            format!("Invalid value: {requested:?}: must be a valid IP address"),
                        )
                    })?;
                    if !self.range.contains(ip) {
                        return Err(invalid(
                            &name,
                            "spec.clusterIPs",
                            format!(
                                "Invalid value: {requested:?}: failed to allocate IP {requested}: provided IP is not in the valid range"
                            ),
                        ));
                    }
                    if used.0.contains(&ip) {
                        return Err(invalid(
                            &name,
                            "spec.clusterIPs",
                            format!(
                                "Invalid value: {requested:?}: failed to allocate IP {requested}: provided IP is already allocated"
                            ),
                        ));
                    }
                    ip
                };
                used.0.insert(ip);
                alloc.ip = Some(ip);
                svc["spec"]["clusterIP"] = json!(ip.to_string());
                svc["spec"]["clusterIPs"] = json!([ip.to_string()]);
            }
        }
        if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
            let ports = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut);
            for (i, port) in ports.into_iter().flatten().enumerate() {
                let requested = port.get("nodePort").and_then(Value::as_u64).unwrap_or(0);
                let p = if requested == 0 {
                    let mut rng = rand::rng();
                    let mut tries = 0;
                    loop {
                        let c = rng.random_range(NODE_PORTS);
                        if !used.1.contains(&c) && !alloc.ports.contains(&c) {
                            break c;
                        }
                        tries += 1;
                        if tries > 10_000 {
                            self.release_locked(&mut used, &alloc);
                            return Err(Status::failure(
                                500,
                                "InternalError",
                                "Internal error occurred: failed to allocate a nodePort: range is full",
                            ));
                        }
                    }
                } else {
                    let p = u16::try_from(requested).ok().filter(|p| NODE_PORTS.contains(p));
                    let field = format!("spec.ports[{i}].nodePort");
                    let Some(p) = p else {
                        self.release_locked(&mut used, &alloc);
                        return Err(invalid(
                            &name,
                            &field,
                            format!(
                                "Invalid value: {requested}: provided port is not in the valid range. The range of valid ports is 30000-32767"
                            ),
                        ));
                    };
                    if used.1.contains(&p) || alloc.ports.contains(&p) {
                        self.release_locked(&mut used, &alloc);
                        return Err(invalid(
                            &name,
                            &field,
                            format!("Invalid value: {requested}: provided port is already allocated"),
                        ));
                    }
                    p
                };
                alloc.ports.push(p);
                port["nodePort"] = json!(p);
            }
            for p in &alloc.ports {
                used.1.insert(*p);
            }
        }
        Ok(alloc)
    }

    /// [`allocate`](Self::allocate), made exclusive across every apiserver on `storage` by
    /// reserving the addresses there. An address reserved by another apiserver is marked taken
    /// and another is picked; one the service asked for explicitly is refused as already
    /// allocated.
    pub async fn allocate_shared(
        &self,
        storage: &Arc<dyn Storage>,
        svc: &mut Value,
    ) -> Result<Allocation, Status> {
        let original = svc.clone();
        let owner = format!(
            "{}/{}",
            svc.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            svc.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
        );
        // What this apiserver remembers as taken may have been freed through another one:
        // before refusing an address the service asks for, or a full range, ask storage.
        if self.requests_taken(&original) {
            self.refresh(storage).await;
        }
        for attempt in 0..32 {
            let alloc = match self.allocate(svc) {
                Err(e) if e.code == 500 && attempt == 0 => {
                    self.refresh(storage).await;
                    *svc = original.clone();
                    self.allocate(svc)?
                }
                other => other?,
            };
            match reserve(storage, &alloc, &owner).await {
                Ok(()) => return Ok(alloc),
                Err(Reserve::Taken(taken)) => {
                    self.release(&alloc);
                    let explicit = match taken {
                        Taken::Ip(ip) => {
                            self.used.lock().0.insert(ip);
                            original.pointer("/spec/clusterIP").and_then(Value::as_str)
                                == Some(&ip.to_string())
                        }
                        Taken::Port(p) => {
                            self.used.lock().1.insert(p);
                            node_ports(&original).contains(&p)
                        }
                    };
                    if explicit {
                        // The same check again, now that the address is known to be taken,
                        // answers with the usual "already allocated" error.
                        *svc = original.clone();
                        return self.allocate(svc).inspect(|a| self.release(a));
                    }
                    *svc = original.clone();
                }
                Err(Reserve::Storage(e)) => {
                    self.release(&alloc);
                    return Err(Status::failure(
                        503,
                        kube_core::status::reason::SERVICE_UNAVAILABLE,
                        format!("could not reserve the service's addresses: {e}"),
                    ));
                }
            }
        }
        Err(Status::failure(
            500,
            "InternalError",
            "Internal error occurred: failed to allocate the service's addresses: too many collisions",
        ))
    }

    /// Node ports for an updated service: ports of a NodePort or LoadBalancer service without
    /// one get one, ports asking for one it did not hold before get it if it is free; all are
    /// reserved in `storage`. Hand the result to [`settle_ports`](Self::settle_ports) once the
    /// update is stored (or not).
    pub async fn update_ports_shared(
        &self,
        storage: &Arc<dyn Storage>,
        old: &Value,
        new: &mut Value,
    ) -> Result<PortChange, Status> {
        let ty = new
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        let name = new
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let held = node_ports(old);
        let mut change = PortChange::default();
        if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
            let count = new
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for i in 0..count {
                let requested = new
                    .pointer(&format!("/spec/ports/{i}/nodePort"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let port = if requested == 0 {
                    match self.reserve_free_port(storage, &name).await {
                        Ok(p) => p,
                        Err(e) => {
                            self.settle_ports(storage, change, false).await;
                            return Err(e);
                        }
                    }
                } else {
                    let Some(p) = u16::try_from(requested).ok().filter(|p| NODE_PORTS.contains(p)) else {
                        continue; // validation reports it
                    };
                    if held.contains(&p) || change.added.contains(&p) {
                        continue;
                    }
                    let taken = || {
                        invalid(
                            &name,
                            &format!("spec.ports[{i}].nodePort"),
                            format!("Invalid value: {requested}: provided port is already allocated"),
                        )
                    };
                    if self.used.lock().1.contains(&p) {
                        self.refresh(storage).await;
                    }
                    if !self.used.lock().1.insert(p) {
                        self.settle_ports(storage, change, false).await;
                        return Err(taken());
                    }
                    let alloc = Allocation {
                        ip: None,
                        ports: vec![p],
                    };
                    match reserve(storage, &alloc, &name).await {
                        Ok(()) => p,
                        Err(_) => {
                            self.used.lock().1.insert(p);
                            self.settle_ports(storage, change, false).await;
                            return Err(taken());
                        }
                    }
                };
                change.added.push(port);
                if let Some(slot) = new.pointer_mut(&format!("/spec/ports/{i}")) {
                    slot["nodePort"] = json!(port);
                }
            }
        }
        let kept = node_ports(new);
        change.removed = held.into_iter().filter(|p| !kept.contains(p)).collect();
        Ok(change)
    }

    /// After an update: give back the node ports the service no longer uses (`committed`) or
    /// the ones reserved for an update that was not stored.
    pub async fn settle_ports(&self, storage: &Arc<dyn Storage>, change: PortChange, committed: bool) {
        let ports = if committed { change.removed } else { change.added };
        if !ports.is_empty() {
            self.release_shared(storage, &Allocation { ip: None, ports })
                .await;
        }
    }

    async fn reserve_free_port(&self, storage: &Arc<dyn Storage>, owner: &str) -> Result<u16, Status> {
        for _ in 0..64 {
            let candidate = {
                let mut used = self.used.lock();
                let mut rng = rand::rng();
                let free = (0..1000)
                    .map(|_| rng.random_range(NODE_PORTS))
                    .find(|c| !used.1.contains(c));
                let Some(c) = free else { break };
                used.1.insert(c);
                c
            };
            match reserve(
                storage,
                &Allocation {
                    ip: None,
                    ports: vec![candidate],
                },
                owner,
            )
            .await
            {
                Ok(()) => return Ok(candidate),
                Err(Reserve::Taken(_)) => continue, // stays marked: another apiserver holds it
                Err(Reserve::Storage(e)) => {
                    self.used.lock().1.remove(&candidate);
                    return Err(Status::failure(
                        503,
                        kube_core::status::reason::SERVICE_UNAVAILABLE,
                        format!("could not reserve a node port: {e}"),
                    ));
                }
            }
        }
        Err(Status::failure(
            500,
            "InternalError",
            "Internal error occurred: failed to allocate a nodePort: range is full",
        ))
    }

    /// Whether `svc` asks for an address this apiserver believes taken.
    fn requests_taken(&self, svc: &Value) -> bool {
        let used = self.used.lock();
        let ip = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Ipv4Addr>().ok());
        ip.is_some_and(|ip| used.0.contains(&ip)) || node_ports(svc).iter().any(|p| used.1.contains(p))
    }

    /// Replace what this apiserver believes taken by the reservations in storage.
    async fn refresh(&self, storage: &Arc<dyn Storage>) {
        let list = |prefix: &'static str| async move {
            storage
                .list(prefix, &crate::storage::ListOptions::default())
                .await
                .map(|l| {
                    l.items
                        .into_iter()
                        .filter_map(|kv| kv.key.strip_prefix(prefix).map(str::to_string))
                        .collect::<Vec<_>>()
                })
        };
        match (list(IP_RESERVATIONS).await, list(PORT_RESERVATIONS).await) {
            (Ok(ips), Ok(ports)) => {
                let mut used = self.used.lock();
                used.0 = ips.iter().filter_map(|ip| ip.parse().ok()).collect();
                used.1 = ports.iter().filter_map(|p| p.parse().ok()).collect();
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "could not read the service address reservations");
            }
        }
    }

    /// [`release`](Self::release), also deleting the reservations in `storage`.
    pub async fn release_shared(&self, storage: &Arc<dyn Storage>, alloc: &Allocation) {
        self.release(alloc);
        for key in reservation_keys(alloc) {
            if let Err(e) = storage.delete(&key, None).await
                && !matches!(e, StorageError::NotFound { .. })
            {
                tracing::warn!(%key, error = %e, "could not delete a service address reservation");
            }
        }
    }

    /// [`release_object`](Self::release_object), also deleting the reservations in `storage`.
    pub async fn release_object_shared(&self, storage: &Arc<dyn Storage>, svc: &Value) {
        self.release_shared(storage, &Allocation::of(svc)).await;
    }

    fn release_locked(&self, used: &mut (HashSet<Ipv4Addr>, HashSet<u16>), alloc: &Allocation) {
        if let Some(ip) = alloc.ip {
            used.0.remove(&ip);
        }
        for p in &alloc.ports {
            used.1.remove(p);
        }
    }

    /// Give back an allocation.
    pub fn release(&self, alloc: &Allocation) {
        self.release_locked(&mut self.used.lock(), alloc);
    }

    /// Give back what a deleted service held.
    pub fn release_object(&self, svc: &Value) {
        self.release(&Allocation::of(svc));
    }
}

impl Allocation {
    /// What a stored service holds.
    fn of(svc: &Value) -> Self {
        Self {
            ip: svc
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
            ports: node_ports(svc),
        }
    }
}

/// Node ports an update reserved, and the ones it gave up.
#[derive(Debug, Default)]
pub struct PortChange {
    added: Vec<u16>,
    removed: Vec<u16>,
}

enum Taken {
    Ip(Ipv4Addr),
    Port(u16),
}

enum Reserve {
    Taken(Taken),
    Storage(StorageError),
}

fn reservation_keys(alloc: &Allocation) -> Vec<String> {
    alloc
        .ip
        .map(|ip| format!("{IP_RESERVATIONS}{ip}"))
        .into_iter()
        .chain(alloc.ports.iter().map(|p| format!("{PORT_RESERVATIONS}{p}")))
        .collect()
}

/// Create the reservation keys of `alloc`; on a key that exists, undo the ones created.
async fn reserve(storage: &Arc<dyn Storage>, alloc: &Allocation, owner: &str) -> Result<(), Reserve> {
    let mut done: Vec<String> = Vec::new();
    let items = alloc
        .ip
        .map(Taken::Ip)
        .into_iter()
        .chain(alloc.ports.iter().map(|p| Taken::Port(*p)));
    for item in items {
        let (key, name) = match &item {
            Taken::Ip(ip) => (format!("{IP_RESERVATIONS}{ip}"), ip.to_string()),
            Taken::Port(p) => (format!("{PORT_RESERVATIONS}{p}"), p.to_string()),
        };
        let value = json!({
            "apiVersion": "v1",
            "kind": "RangeAllocation",
            "metadata": {"name": name},
            "service": owner,
        });
        let result = storage.create(&key, bytes::Bytes::from(value.to_string())).await;
        let failure = match result {
            Ok(_) => {
                done.push(key);
                continue;
            }
            Err(StorageError::AlreadyExists { .. }) => Reserve::Taken(item),
            Err(e) => Reserve::Storage(e),
        };
        for key in done {
            let _ = storage.delete(&key, None).await;
        }
        return Err(failure);
    }
    Ok(())
}

fn node_ports(svc: &Value) -> Vec<u16> {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            p.get("nodePort")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_unique_ips_and_ports_and_rejects_conflicts() {
        let a = ServiceAllocator::new("127.96.0.0/28".parse().unwrap());
        let mut ips = HashSet::new();
        for i in 0..14 {
            let mut svc = json!({"metadata": {"name": format!("s{i}")}, "spec": {"ports": [{"port": 80}]}});
            a.allocate(&mut svc).unwrap();
            let ip: Ipv4Addr = svc["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
            assert!("127.96.0.0/28".parse::<Cidr>().unwrap().contains(ip));
            assert!(ips.insert(ip));
        }
        let mut full = json!({"metadata": {"name": "x"}, "spec": {}});
        assert_eq!(a.allocate(&mut full).unwrap_err().code, 500);

        let a = ServiceAllocator::new("127.96.0.0/16".parse().unwrap());
        let mut np = json!({"metadata": {"name": "n"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}, {"port": 81}]}});
        a.allocate(&mut np).unwrap();
        assert!(NODE_PORTS.contains(&(np["spec"]["ports"][1]["nodePort"].as_u64().unwrap() as u16)));
        let mut clash = json!({"metadata": {"name": "c"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}});
        let err = a.allocate(&mut clash).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(
            err.message.contains("provided port is already allocated"),
            "{}",
            err.message
        );
        a.release_object(&np);
        a.allocate(&mut clash).unwrap();
        let mut headless = json!({"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}});
        a.allocate(&mut headless).unwrap();
        assert_eq!(headless["spec"]["clusterIP"], "None");
        let mut outside = json!({"metadata": {"name": "o"}, "spec": {"clusterIP": "10.0.0.1"}});
        assert!(
            a.allocate(&mut outside)
                .unwrap_err()
                .message
                .contains("not in the valid range")
        );
    }
}
