"""A ConfigMap through CoreV1Api: create, read, list with a selector, patch, replace, delete."""

from kubernetes import client

from common import REQUEST_TIMEOUT, api_client, check, expect_status

NS = "default"


def main():
    v1 = client.CoreV1Api(api_client())
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="py-config", labels={"app": "py"}),
        data={"greeting": "hello", "lang": "python"},
    )
    created = v1.create_namespaced_config_map(NS, body, _request_timeout=REQUEST_TIMEOUT)
    check(created.data == {"greeting": "hello", "lang": "python"}, f"created: {created.data}")
    read = v1.read_namespaced_config_map("py-config", NS)
    check(read.metadata.uid == created.metadata.uid, "same object")
    listed = v1.list_namespaced_config_map(NS, label_selector="app=py")
    check([c.metadata.name for c in listed.items] == ["py-config"], f"list: {listed.items}")
    check(v1.list_namespaced_config_map(NS, label_selector="app!=py").items == [], "app!=py")

    patched = v1.patch_namespaced_config_map("py-config", NS, {"data": {"greeting": "hi"}})
    check(patched.data == {"greeting": "hi", "lang": "python"}, f"patched: {patched.data}")
    patched.data = {"only": "this"}
    replaced = v1.replace_namespaced_config_map("py-config", NS, patched)
    check(replaced.data == {"only": "this"}, f"replaced: {replaced.data}")

    v1.delete_namespaced_config_map("py-config", NS)
    expect_status(lambda: v1.read_namespaced_config_map("py-config", NS), 404)
    print("configmaps: ok")


if __name__ == "__main__":
    main()
