//! Containers of a pod spec: core validation's `validateContainers`, `validateInitContainers`,
//! `validateContainerCommon` and the helpers they call (ports, env, mounts, probes, security
//! context).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::formats::{
    NEGATIVE, config_map_key, dns1123_label, dns1123_subdomain, env_var_name, http_header_name,
    inclusive_range, port_name, port_num, qualified_name,
};
use super::json::{arr, bool_of, get, int_of, opt_str, str_of, strings};
use super::resources::resource_requirements;
use super::volume::{VolumeInfo, local_descending_path, no_backsteps};
use super::{FieldError, Path};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// Options that change container validation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContainerCtx<'a> {
    /// The declared volumes.
    pub volumes: &'a BTreeMap<String, VolumeInfo>,
    /// The pod's `terminationGracePeriodSeconds`.
    pub grace: Option<i64>,
    /// Whether the pod shares the host user namespace (`hostUsers` unset or true).
    pub host_users: bool,
}

/// `validateContainers`: required, unique names, common checks, probes and lifecycle.
pub(crate) fn validate_containers(
    containers: &[Value],
    ctx: ContainerCtx<'_>,
    path: &Path,
) -> Vec<FieldError> {
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(container_common(c, ctx, &p));
        let name = str_of(c, "name");
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
        errs.extend(probes_and_lifecycle(c, ctx.grace, &p));
        if get(c, "restartPolicy").is_some() {
            errs.push(FieldError::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(host_port_conflicts(containers, path));
    errs
}

/// `validateInitContainers`.
pub(crate) fn validate_init_containers(
    inits: &[Value],
    regular: &[Value],
    ctx: ContainerCtx<'_>,
    path: &Path,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names: BTreeSet<String> = regular.iter().map(|c| str_of(c, "name").to_string()).collect();
    for (i, c) in inits.iter().enumerate() {
        let p = path.index(i);
        errs.extend(container_common(c, ctx, &p));
        let restartable = match opt_str(c, "restartPolicy") {
            Some("Always") => true,
            Some(other) => {
                errs.push(FieldError::not_supported(
                    &p.child("restartPolicy"),
                    other,
                    &["Always"],
                ));
                false
            }
            None => false,
        };
        let name = str_of(c, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        } else if !name.is_empty() {
            names.insert(name.to_string());
        }
        errs.extend(host_port_conflicts(std::slice::from_ref(c), path));
        if restartable {
            errs.extend(probes_and_lifecycle(c, ctx.grace, &p));
        } else {
            for field in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] {
                if get(c, field).is_some() {
                    let msg = "may not be set for init containers without restartPolicy=Always";
                    errs.push(FieldError::forbidden(&p.child(field), msg));
                }
            }
        }
    }
    errs
}

fn probes_and_lifecycle(c: &Value, grace: Option<i64>, p: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(l) = get(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = get(l, hook) {
                errs.extend(handler(h, grace, true, &p.child("lifecycle").child(hook)));
            }
        }
    }
    for (field, one_success, no_grace) in [
        ("livenessProbe", true, false),
        ("readinessProbe", false, true),
        ("startupProbe", true, false),
    ] {
        let Some(probe) = get(c, field) else { continue };
        let pp = p.child(field);
        errs.extend(handler(probe, grace, false, &pp));
        for f in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            if let Some(v) = int_of(probe, f).filter(|v| *v < 0) {
                errs.push(FieldError::invalid(&pp.child(f), v, NEGATIVE));
            }
        }
        if let Some(g) = int_of(probe, "terminationGracePeriodSeconds").filter(|g| *g <= 0) {
            errs.push(FieldError::invalid(
                &pp.child("terminationGracePeriodSeconds"),
                g,
                "must be greater than 0",
            ));
        }
        if one_success {
            let st = int_of(probe, "successThreshold").unwrap_or(0);
            if st != 1 {
                errs.push(FieldError::invalid(
                    &pp.child("successThreshold"),
                    st,
                    "must be 1",
                ));
            }
        }
        if no_grace && let Some(g) = get(probe, "terminationGracePeriodSeconds") {
            let msg = "must not be set for readinessProbes";
            errs.push(FieldError::invalid(
                &pp.child("terminationGracePeriodSeconds"),
                g.clone(),
                msg,
            ));
        }
    }
    errs
}

/// `validateHandler`: exactly one of exec, httpGet, tcpSocket, grpc (probes) or sleep (hooks).
fn handler(h: &Value, grace: Option<i64>, lifecycle: bool, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut n = 0;
    let kinds: &[&str] = if lifecycle {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    for kind in kinds {
        let Some(a) = get(h, kind) else { continue };
        let p = path.child(kind);
        if n > 0 {
            errs.push(FieldError::forbidden(
                &p,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        n += 1;
        match *kind {
            "exec" if arr(a, "command").is_empty() => {
                errs.push(FieldError::required(&p.child("command"), ""))
            }
            "httpGet" => {
                if str_of(a, "path").is_empty() {
                    errs.push(FieldError::required(&p.child("path"), ""));
                }
                errs.extend(port_num_or_name(a.get("port"), &p.child("port")));
                let scheme = str_of(a, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(FieldError::not_supported(
                        &p.child("scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for header in arr(a, "httpHeaders") {
                    let name = str_of(header, "name");
                    for m in http_header_name(name) {
                        errs.push(FieldError::invalid(&p.child("httpHeaders"), name, m));
                    }
                }
            }
            "tcpSocket" => errs.extend(port_num_or_name(a.get("port"), &p.child("port"))),
            "grpc" => {
                let port = int_of(a, "port").unwrap_or(0);
                errs.extend(
                    port_num(port)
                        .into_iter()
                        .map(|m| FieldError::invalid(&p.child("port"), port, m)),
                );
            }
            "sleep" => {
                let secs = int_of(a, "seconds").unwrap_or(0);
                if let Some(g) = grace.filter(|g| secs < 0 || secs > *g) {
                    let msg =
                        format!("must be non-negative and less than terminationGracePeriodSeconds ({g})");
                    errs.push(FieldError::invalid(&p, secs, msg));
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

/// `ValidatePortNumOrName` for an `IntOrString` port.
pub(crate) fn port_num_or_name(port: Option<&Value>, path: &Path) -> Vec<FieldError> {
    match port {
        Some(Value::String(s)) => port_name(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, s.as_str(), m))
            .collect(),
        other => {
            let n = other.and_then(Value::as_i64).unwrap_or(0);
            port_num(n)
                .into_iter()
                .map(|m| FieldError::invalid(path, n, m))
                .collect()
        }
    }
}

fn container_common(c: &Value, ctx: ContainerCtx<'_>, p: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = str_of(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&p.child("name"), ""));
    } else {
        errs.extend(
            dns1123_label(name)
                .into_iter()
                .map(|m| FieldError::invalid(&p.child("name"), name, m)),
        );
    }
    if str_of(c, "image").is_empty() {
        errs.push(FieldError::required(&p.child("image"), ""));
    }
    match str_of(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(&p.child("terminationMessagePolicy"), "")),
        other => {
            let supported = &["File", "FallbackToLogsOnError"];
            errs.push(FieldError::not_supported(
                &p.child("terminationMessagePolicy"),
                other,
                supported,
            ));
        }
    }
    errs.extend(container_ports(arr(c, "ports"), &p.child("ports")));
    errs.extend(env(arr(c, "env"), &p.child("env")));
    errs.extend(env_from(arr(c, "envFrom"), &p.child("envFrom")));
    errs.extend(volume_mounts(c, ctx.volumes, &p.child("volumeMounts")));
    errs.extend(volume_devices(c, ctx.volumes, &p.child("volumeDevices")));
    errs.extend(pull_policy(
        str_of(c, "imagePullPolicy"),
        &p.child("imagePullPolicy"),
    ));
    if let Some(r) = get(c, "resources") {
        errs.extend(resource_requirements(r, &p.child("resources")));
    }
    if let Some(sc) = get(c, "securityContext") {
        errs.extend(security_context(sc, ctx.host_users, &p.child("securityContext")));
    }
    errs
}

pub(crate) fn pull_policy(policy: &str, path: &Path) -> Vec<FieldError> {
    match policy {
        "Always" | "IfNotPresent" | "Never" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Always", "IfNotPresent", "Never"],
        )],
    }
}

fn container_ports(ports: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = str_of(port, "name");
        if !name.is_empty() {
            let msgs = port_name(name);
            if !msgs.is_empty() {
                errs.extend(
                    msgs.into_iter()
                        .map(|m| FieldError::invalid(&p.child("name"), name, m)),
                );
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        match int_of(port, "containerPort").unwrap_or(0) {
            0 => errs.push(FieldError::required(&p.child("containerPort"), "")),
            n => errs.extend(
                port_num(n)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("containerPort"), n, m)),
            ),
        }
        let host = int_of(port, "hostPort").unwrap_or(0);
        if host != 0 {
            errs.extend(
                port_num(host)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("hostPort"), host, m)),
            );
        }
        errs.extend(protocol(str_of(port, "protocol"), &p.child("protocol")));
    }
    errs
}

/// A port protocol: required, TCP, UDP or SCTP.
pub(crate) fn protocol(proto: &str, path: &Path) -> Vec<FieldError> {
    match proto {
        "" => vec![FieldError::required(path, "")],
        p if PROTOCOLS.contains(&p) => Vec::new(),
        p => vec![FieldError::not_supported(path, p, PROTOCOLS)],
    }
}

fn host_port_conflicts(containers: &[Value], path: &Path) -> Vec<FieldError> {
    let mut seen = BTreeSet::new();
    let mut errs = Vec::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in arr(c, "ports").iter().enumerate() {
            let hp = int_of(port, "hostPort").unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{hp}", str_of(port, "protocol"), str_of(port, "hostIP"));
            if !seen.insert(key.clone()) {
                let p = path.index(ci).child("ports").index(pi).child("hostPort");
                errs.push(FieldError::duplicate(&p, key));
            }
        }
    }
    errs
}

fn env(vars: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        let name = str_of(ev, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            errs.extend(
                env_var_name(name)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("name"), name, m)),
            );
        }
        let Some(from) = get(ev, "valueFrom") else {
            continue;
        };
        let fp = p.child("valueFrom");
        let mut n = 0;
        if let Some(f) = get(from, "fieldRef") {
            n += 1;
            let allowed = [
                "metadata.name",
                "metadata.namespace",
                "metadata.uid",
                "spec.nodeName",
                "spec.serviceAccountName",
                "status.hostIP",
                "status.hostIPs",
                "status.podIP",
                "status.podIPs",
            ];
            errs.extend(object_field_selector(f, &allowed, &fp.child("fieldRef")));
        }
        if let Some(r) = get(from, "resourceFieldRef") {
            n += 1;
            errs.extend(resource_field_selector(r, false, &fp.child("resourceFieldRef")));
        }
        for kind in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(s) = get(from, kind) {
                n += 1;
                let kp = fp.child(kind);
                let name = str_of(s, "name");
                errs.extend(
                    dns1123_subdomain(name)
                        .into_iter()
                        .map(|m| FieldError::invalid(&kp.child("name"), name, m)),
                );
                let key = str_of(s, "key");
                if key.is_empty() {
                    errs.push(FieldError::required(&kp.child("key"), ""));
                } else {
                    errs.extend(
                        config_map_key(key)
                            .into_iter()
                            .map(|m| FieldError::invalid(&kp.child("key"), key, m)),
                    );
                }
            }
        }
        if n == 0 {
            let msg =
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`";
            errs.push(FieldError::invalid(&fp, "", msg));
        } else if !str_of(ev, "value").is_empty() {
            errs.push(FieldError::invalid(
                &fp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                &fp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

const DOWNWARD_FIELDS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.phase",
    "status.podIP",
    "status.podIPs",
];

pub(crate) fn object_field_selector(fs: &Value, allowed: &[&str], path: &Path) -> Vec<FieldError> {
    if str_of(fs, "apiVersion").is_empty() {
        return vec![FieldError::required(&path.child("apiVersion"), "")];
    }
    let fp = str_of(fs, "fieldPath");
    if fp.is_empty() {
        return vec![FieldError::required(&path.child("fieldPath"), "")];
    }
    if let Some((base, rest)) = fp.split_once("['") {
        let key = rest.strip_suffix("']").unwrap_or(rest);
        let key = match base {
            "metadata.annotations" => key.to_lowercase(),
            "metadata.labels" => key.to_string(),
            _ => return vec![FieldError::invalid(path, base, "does not support subscript")],
        };
        return qualified_name(&key)
            .into_iter()
            .map(|m| FieldError::invalid(path, key.as_str(), m))
            .collect();
    }
    if !DOWNWARD_FIELDS.contains(&fp) {
        let msg = format!("error converting fieldPath: field label not supported: {fp}");
        return vec![FieldError::invalid(&path.child("fieldPath"), fp, msg)];
    }
    if !allowed.contains(&fp) {
        let mut sorted = allowed.to_vec();
        sorted.sort_unstable();
        return vec![FieldError::not_supported(&path.child("fieldPath"), fp, &sorted)];
    }
    Vec::new()
}

pub(crate) fn resource_field_selector(r: &Value, volume: bool, path: &Path) -> Vec<FieldError> {
    const ALLOWED: &[&str] = &[
        "limits.cpu",
        "limits.ephemeral-storage",
        "limits.memory",
        "requests.cpu",
        "requests.ephemeral-storage",
        "requests.memory",
    ];
    let resource = str_of(r, "resource");
    if volume && str_of(r, "containerName").is_empty() {
        vec![FieldError::required(&path.child("containerName"), "")]
    } else if resource.is_empty() {
        vec![FieldError::required(&path.child("resource"), "")]
    } else if !ALLOWED.contains(&resource)
        && !resource.starts_with("requests.hugepages-")
        && !resource.starts_with("limits.hugepages-")
    {
        vec![FieldError::not_supported(
            &path.child("resource"),
            resource,
            ALLOWED,
        )]
    } else {
        Vec::new()
    }
}

fn env_from(sources: &[Value], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ev) in sources.iter().enumerate() {
        let p = path.index(i);
        let prefix = str_of(ev, "prefix");
        if !prefix.is_empty() {
            errs.extend(
                env_var_name(prefix)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("prefix"), prefix, m)),
            );
        }
        let mut n = 0;
        for kind in ["configMapRef", "secretRef"] {
            if let Some(s) = get(ev, kind) {
                n += 1;
                let name = str_of(s, "name");
                let np = p.child(kind).child("name");
                if name.is_empty() {
                    errs.push(FieldError::required(&np, ""));
                } else {
                    let masked = super::meta::NameRule::Subdomain.check(name, true);
                    errs.extend(masked.into_iter().map(|m| FieldError::invalid(&np, name, m)));
                }
            }
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

fn volume_mounts(c: &Value, volumes: &BTreeMap<String, VolumeInfo>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut mount_paths = BTreeSet::new();
    let privileged = get(c, "securityContext").is_some_and(|sc| bool_of(sc, "privileged"));
    for (i, m) in arr(c, "volumeMounts").iter().enumerate() {
        let p = path.index(i);
        let name = str_of(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if !volumes.contains_key(name) {
            errs.push(FieldError::not_found(&p.child("name"), name));
        }
        let mount_path = str_of(m, "mountPath");
        if mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !mount_paths.insert(mount_path) {
            errs.push(FieldError::invalid(
                &p.child("mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        let devices = arr(c, "volumeDevices");
        if devices.iter().any(|d| str_of(d, "name") == name) {
            errs.push(FieldError::invalid(
                &p.child("name"),
                name,
                "must not already exist in volumeDevices",
            ));
        }
        if devices.iter().any(|d| str_of(d, "devicePath") == mount_path) {
            let msg = "must not already exist as a path in volumeDevices";
            errs.push(FieldError::invalid(&p.child("mountPath"), mount_path, msg));
        }
        let (sub, sub_expr) = (str_of(m, "subPath"), str_of(m, "subPathExpr"));
        if volumes.get(name).is_some_and(|v| v.image) {
            for (field, value) in [("subPath", sub), ("subPathExpr", sub_expr)] {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child(field),
                        value,
                        "not allowed in image volume sources",
                    ));
                }
            }
        }
        if !sub.is_empty() {
            errs.extend(local_descending_path(sub, &path.child("subPath")));
        }
        if !sub_expr.is_empty() {
            if !sub.is_empty() {
                let msg = "subPathExpr and subPath are mutually exclusive";
                errs.push(FieldError::invalid(&p.child("subPathExpr"), sub_expr, msg));
            }
            errs.extend(local_descending_path(sub_expr, &path.child("subPathExpr")));
        }
        if let Some(prop) = opt_str(m, "mountPropagation") {
            let pp = path.child("mountPropagation");
            const PROPAGATIONS: &[&str] = &["Bidirectional", "HostToContainer", "None"];
            if !PROPAGATIONS.contains(&prop) {
                errs.push(FieldError::not_supported(&pp, prop, PROPAGATIONS));
            }
            if prop == "Bidirectional" && !privileged {
                let msg = "Bidirectional mount propagation is available only to privileged containers";
                errs.push(FieldError::forbidden(&pp, msg));
            }
        }
        match opt_str(m, "recursiveReadOnly") {
            None | Some("Disabled") => {}
            Some("Enabled" | "IfPossible") => {
                let rp = path.child("recursiveReadOnly");
                if !bool_of(m, "readOnly") {
                    errs.push(FieldError::forbidden(
                        &rp,
                        "may only be specified when readOnly is true",
                    ));
                }
                if opt_str(m, "mountPropagation").is_some_and(|p| p != "None") {
                    let msg = "may only be specified when mountPropagation is None or not specified";
                    errs.push(FieldError::forbidden(&rp, msg));
                }
            }
            Some(other) => {
                let supported = &["Disabled", "Enabled", "IfPossible"];
                errs.push(FieldError::not_supported(
                    &path.child("recursiveReadOnly"),
                    other,
                    supported,
                ));
            }
        }
    }
    errs
}

/// `ValidateVolumeDevices`: block devices come from claims, unique, not also mounted.
fn volume_devices(c: &Value, volumes: &BTreeMap<String, VolumeInfo>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mounts: Vec<(&str, &str)> = arr(c, "volumeMounts")
        .iter()
        .map(|m| (str_of(m, "name"), str_of(m, "mountPath")))
        .collect();
    let (mut names, mut paths) = (BTreeSet::new(), BTreeSet::new());
    for (i, d) in arr(c, "volumeDevices").iter().enumerate() {
        let p = path.index(i);
        let (name, dev_path) = (str_of(d, "name"), str_of(d, "devicePath"));
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if names.contains(name) {
            errs.push(FieldError::invalid(&p.child("name"), name, "must be unique"));
        }
        match volumes.get(name) {
            Some(v) if !v.pvc => {
                let msg =
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode";
                errs.push(FieldError::invalid(&p.child("name"), name, msg));
            }
            Some(_) => {}
            None => errs.push(FieldError::not_found(&p.child("name"), name)),
        }
        if dev_path.is_empty() {
            errs.push(FieldError::required(&p.child("devicePath"), ""));
        }
        if paths.contains(dev_path) {
            errs.push(FieldError::invalid(
                &p.child("devicePath"),
                dev_path,
                "must be unique",
            ));
        }
        if !dev_path.is_empty() && !no_backsteps(dev_path, &p).is_empty() {
            errs.push(FieldError::invalid(
                &p.child("devicePath"),
                dev_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            paths.insert(dev_path);
        }
        if mounts.iter().any(|(n, _)| *n == name) {
            errs.push(FieldError::invalid(
                &p.child("name"),
                name,
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.iter().any(|(_, mp)| *mp == dev_path) {
            let msg = "must not already exist as a path in volumeMounts";
            errs.push(FieldError::invalid(&p.child("devicePath"), dev_path, msg));
        }
        if !name.is_empty() {
            names.insert(name);
        }
    }
    errs
}

/// A user or group id: `IsValidUserID` / `IsValidGroupID`.
pub(crate) fn id_range(v: &Value, key: &str, path: &Path) -> Vec<FieldError> {
    match int_of(v, key) {
        Some(id) if !(0..=0xffff_ffff).contains(&id) => {
            vec![FieldError::invalid(
                &path.child(key),
                id,
                inclusive_range(0, 0xffff_ffff),
            )]
        }
        _ => Vec::new(),
    }
}

/// `validateSeccompProfileField`.
pub(crate) fn seccomp_profile(sp: Option<&Value>, path: &Path) -> Vec<FieldError> {
    let Some(sp) = sp else { return Vec::new() };
    let mut errs = Vec::new();
    let t = str_of(sp, "type");
    const TYPES: &[&str] = &["Localhost", "RuntimeDefault", "Unconfined"];
    if t.is_empty() {
        errs.push(FieldError::required(
            &path.child("type"),
            "type is required when seccompProfile is set",
        ));
    } else if !TYPES.contains(&t) {
        errs.push(FieldError::not_supported(&path.child("type"), t, TYPES));
    }
    match (t, opt_str(sp, "localhostProfile")) {
        ("Localhost", None) => {
            let msg = "must be set when seccomp type is Localhost";
            errs.push(FieldError::required(&path.child("localhostProfile"), msg));
        }
        ("Localhost", Some(p)) => errs.extend(local_descending_path(p, &path.child("localhostProfile"))),
        (_, Some(_)) => {
            let msg = "can only be set when seccomp type is Localhost";
            errs.push(FieldError::invalid(
                &path.child("localhostProfile"),
                sp.clone(),
                msg,
            ));
        }
        _ => {}
    }
    errs
}

/// `ValidateSecurityContext` for a container.
fn security_context(sc: &Value, host_users: bool, path: &Path) -> Vec<FieldError> {
    let mut errs = id_range(sc, "runAsUser", path);
    errs.extend(id_range(sc, "runAsGroup", path));
    if let Some(pm) = opt_str(sc, "procMount") {
        if pm != "Default" && pm != "Unmasked" {
            errs.push(FieldError::not_supported(
                &path.child("procMount"),
                pm,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && pm == "Unmasked" {
            errs.push(FieldError::invalid(
                &path.child("procMount"),
                pm,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    errs.extend(seccomp_profile(
        get(sc, "seccompProfile"),
        &path.child("seccompProfile"),
    ));
    if sc.get("allowPrivilegeEscalation").and_then(Value::as_bool) == Some(false) {
        if bool_of(sc, "privileged") {
            let msg = "cannot set `allowPrivilegeEscalation` to false and `privileged` to true";
            errs.push(FieldError::invalid(path, sc.clone(), msg));
        }
        let caps = get(sc, "capabilities")
            .map(|c| strings(c, "add"))
            .unwrap_or_default();
        if caps.iter().any(|c| c == "CAP_SYS_ADMIN") {
            let msg = "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN";
            errs.push(FieldError::invalid(path, sc.clone(), msg));
        }
    }
    errs
}
