"""A CustomResourceDefinition through ApiextensionsV1Api, then its objects through
CustomObjectsApi: create, get, list with a selector, merge patch, replace, delete; the schema
is enforced."""

from kubernetes import client

from common import api_client, check, eventually, expect_status

GROUP, VERSION, PLURAL, NS = "example.com", "v1", "gadgets", "default"


def crd():
    schema = client.V1JSONSchemaProps(
        type="object",
        properties={
            "spec": client.V1JSONSchemaProps(
                type="object",
                properties={
                    "size": client.V1JSONSchemaProps(type="integer", minimum=1),
                    "color": client.V1JSONSchemaProps(type="string"),
                },
            )
        },
    )
    return client.V1CustomResourceDefinition(
        metadata=client.V1ObjectMeta(name=f"{PLURAL}.{GROUP}"),
        spec=client.V1CustomResourceDefinitionSpec(
            group=GROUP,
            scope="Namespaced",
            names=client.V1CustomResourceDefinitionNames(plural=PLURAL, singular="gadget", kind="Gadget"),
            versions=[
                client.V1CustomResourceDefinitionVersion(
                    name=VERSION, served=True, storage=True, schema=client.V1CustomResourceValidation(open_apiv3_schema=schema)
                )
            ],
        ),
    )


def gadget(name, size, labels=None):
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Gadget",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"size": size, "color": "red"},
    }


def main():
    api = api_client()
    ext = client.ApiextensionsV1Api(api)
    objs = client.CustomObjectsApi(api)
    ext.create_custom_resource_definition(crd())

    def established():
        c = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        return any(x.type == "Established" and x.status == "True" for x in (c.status.conditions or []))

    eventually(established, "the CRD to be Established")

    def create_first():
        try:
            return objs.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, gadget("g1", 2, {"app": "py"}))
        except client.exceptions.ApiException as e:
            if e.status == 404:  # served a moment after Established
                return None
            raise

    created = eventually(create_first, "the custom resource to be served")
    check(created["metadata"]["uid"], "the server sets a uid")
    objs.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, gadget("g2", 5))
    expect_status(lambda: objs.create_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, gadget("bad", 0)), 422)

    got = objs.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "g1")
    check(got["spec"] == {"size": 2, "color": "red"}, f"get: {got['spec']}")
    listed = objs.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, label_selector="app=py")
    check([i["metadata"]["name"] for i in listed["items"]] == ["g1"], f"list: {listed['items']}")
    check(len(objs.list_namespaced_custom_object(GROUP, VERSION, NS, PLURAL)["items"]) == 2, "both listed")

    patched = objs.patch_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "g1", {"spec": {"color": "blue"}})
    check(patched["spec"] == {"size": 2, "color": "blue"}, f"merge patch: {patched['spec']}")
    patched["spec"]["size"] = 7
    replaced = objs.replace_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "g1", patched)
    check(replaced["spec"]["size"] == 7, f"replace: {replaced['spec']}")

    objs.delete_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "g1")
    expect_status(lambda: objs.get_namespaced_custom_object(GROUP, VERSION, NS, PLURAL, "g1"), 404)
    ext.delete_custom_resource_definition(f"{PLURAL}.{GROUP}")
    print("custom objects: ok")


if __name__ == "__main__":
    main()
