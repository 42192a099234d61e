//! CustomResourceDefinition defaults (apiextensions' `SetDefaults_CustomResourceDefinition`
//! and the strategy's `PrepareForCreate`/`PrepareForUpdate`): `singular` and `listKind` from
//! the kind, conversion strategy `None`, and the storage version recorded in
//! `status.storedVersions`.

use serde_json::{Value, json};

use super::{ensure_object, set_default, set_default_str, str_field, with};

pub(super) fn crd(obj: &mut Value) {
    let mut storage = None;
    with(obj, "spec", |spec| {
        with(spec, "names", |names| {
            let kind = str_field(names, "kind").to_string();
            if !kind.is_empty() {
                set_default_str(names, "singular", &kind.to_ascii_lowercase());
                set_default_str(names, "listKind", &format!("{kind}List"));
            }
        });
        set_default(spec, "conversion", json!({"strategy": "None"}));
        storage = spec
            .get("versions")
            .and_then(Value::as_array)
            .and_then(|vs| vs.iter().find(|v| v.get("storage") == Some(&json!(true))))
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string);
    });
    let (Some(storage), Some(status)) = (storage, ensure_object(obj, "status")) else {
        return;
    };
    let stored = status
        .as_object_mut()
        .expect("ensured an object")
        .entry("storedVersions")
        .or_insert_with(|| json!([]));
    if let Some(list) = stored.as_array_mut()
        && !list.iter().any(|v| v.as_str() == Some(storage.as_str()))
    {
        list.push(json!(storage));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_conversion_and_stored_versions() {
        let mut crd_obj = json!({"spec": {"names": {"kind": "Widget", "plural": "widgets"},
                                          "versions": [{"name": "v1beta1", "storage": false}, {"name": "v1", "storage": true}]}});
        crd(&mut crd_obj);
        assert_eq!(crd_obj["spec"]["names"]["singular"], "widget");
        assert_eq!(crd_obj["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(crd_obj["spec"]["conversion"]["strategy"], "None");
        assert_eq!(crd_obj["status"]["storedVersions"], json!(["v1"]));
        // Switching the storage version adds it; the old one stays until migrated.
        crd_obj["spec"]["versions"] =
            json!([{"name": "v1beta1", "storage": true}, {"name": "v1", "storage": false}]);
        crd(&mut crd_obj);
        assert_eq!(crd_obj["status"]["storedVersions"], json!(["v1", "v1beta1"]));
    }
}
