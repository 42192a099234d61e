"""Pods through CoreV1Api: create, read, list with label and field selectors, watch (a stream
with a timeout) while another thread writes, strategic-merge and JSON patches, replace, delete."""

import threading

from kubernetes import client, watch

from common import REQUEST_TIMEOUT, api_client, check, expect_status

NS = "default"


def pod(name, labels):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="busybox:1.36")]),
    )


def main():
    v1 = client.CoreV1Api(api_client())

    created = v1.create_namespaced_pod(NS, pod("py-a", {"app": "py", "tier": "web"}), _request_timeout=REQUEST_TIMEOUT)
    check(created.metadata.uid, "the server sets a uid")
    check(created.metadata.resource_version, "the server sets a resourceVersion")
    v1.create_namespaced_pod(NS, pod("py-b", {"app": "py", "tier": "db"}), _request_timeout=REQUEST_TIMEOUT)
    v1.create_namespaced_pod(NS, pod("other", {"app": "other"}), _request_timeout=REQUEST_TIMEOUT)
    expect_status(lambda: v1.create_namespaced_pod(NS, pod("py-a", {})), 409)

    read = v1.read_namespaced_pod("py-a", NS, _request_timeout=REQUEST_TIMEOUT)
    check(read.spec.containers[0].image == "busybox:1.36", f"image: {read.spec.containers[0].image}")
    check(read.metadata.labels == {"app": "py", "tier": "web"}, f"labels: {read.metadata.labels}")
    check(read.status.phase == "Pending", f"phase: {read.status.phase}")
    expect_status(lambda: v1.read_namespaced_pod("missing", NS), 404)

    by_label = v1.list_namespaced_pod(NS, label_selector="app=py", _request_timeout=REQUEST_TIMEOUT)
    check(sorted(p.metadata.name for p in by_label.items) == ["py-a", "py-b"], f"app=py: {by_label.items}")
    set_based = v1.list_namespaced_pod(NS, label_selector="tier in (db),app", _request_timeout=REQUEST_TIMEOUT)
    check([p.metadata.name for p in set_based.items] == ["py-b"], "tier in (db),app")
    by_field = v1.list_namespaced_pod(NS, field_selector="metadata.name=other", _request_timeout=REQUEST_TIMEOUT)
    check([p.metadata.name for p in by_field.items] == ["other"], "metadata.name=other")
    pending = v1.list_pod_for_all_namespaces(field_selector="status.phase=Pending", _request_timeout=REQUEST_TIMEOUT)
    check(len(pending.items) == 3, f"status.phase=Pending: {len(pending.items)}")

    # Watch from the list's resourceVersion while another thread writes.
    rv = v1.list_namespaced_pod(NS, _request_timeout=REQUEST_TIMEOUT).metadata.resource_version

    def writer():
        v1.create_namespaced_pod(NS, pod("py-watched", {"app": "py"}))
        v1.patch_namespaced_pod("py-watched", NS, {"metadata": {"labels": {"step": "patched"}}})
        v1.delete_namespaced_pod("py-watched", NS)

    thread = threading.Thread(target=writer)
    thread.start()
    events = []
    w = watch.Watch()
    for event in w.stream(v1.list_namespaced_pod, NS, resource_version=rv, label_selector="app=py", timeout_seconds=20):
        events.append((event["type"], event["object"].metadata.name, (event["object"].metadata.labels or {}).get("step")))
        if event["type"] == "DELETED":
            w.stop()
    thread.join(timeout=REQUEST_TIMEOUT)
    check(
        events == [("ADDED", "py-watched", None), ("MODIFIED", "py-watched", "patched"), ("DELETED", "py-watched", "patched")],
        f"watch events: {events}",
    )

    # Patches: a dict is a strategic merge patch, a list a JSON patch.
    patched = v1.patch_namespaced_pod("py-a", NS, {"metadata": {"labels": {"tier": "cache", "new": "1"}}})
    check(patched.metadata.labels == {"app": "py", "tier": "cache", "new": "1"}, f"strategic: {patched.metadata.labels}")
    patched = v1.patch_namespaced_pod("py-a", NS, [{"op": "remove", "path": "/metadata/labels/new"}])
    check("new" not in patched.metadata.labels, f"json patch: {patched.metadata.labels}")

    # Replace: a full update with the read resourceVersion; a stale one is a conflict.
    current = v1.read_namespaced_pod("py-a", NS)
    current.metadata.annotations = {"replaced": "yes"}
    replaced = v1.replace_namespaced_pod("py-a", NS, current)
    check(replaced.metadata.annotations == {"replaced": "yes"}, f"replace: {replaced.metadata.annotations}")
    check(replaced.metadata.resource_version != current.metadata.resource_version, "a new resourceVersion")
    current.metadata.annotations = {"replaced": "stale"}
    expect_status(lambda: v1.replace_namespaced_pod("py-a", NS, current), 409)

    for name in ["py-a", "py-b", "other"]:
        v1.delete_namespaced_pod(name, NS, _request_timeout=REQUEST_TIMEOUT)
    expect_status(lambda: v1.read_namespaced_pod("py-a", NS), 404)
    check(v1.list_namespaced_pod(NS).items == [], "all pods deleted")
    print("pods: ok")


if __name__ == "__main__":
    main()
