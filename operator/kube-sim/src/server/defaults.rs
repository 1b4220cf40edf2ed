//! Defaults the API server fills into built-in objects (Kubernetes' `SetDefaults_*`),
//! for the fields the operator, the StatefulSet controller and the kubelet read.

use serde_json::{Map, Value, json};

use crate::discovery::ResourceType;

fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

fn object_at<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut current = value;
    for key in path {
        current = current.get_mut(*key)?;
    }
    current.as_object_mut()
}

/// `Always` for `:latest` or untagged images, else `IfNotPresent`.
fn pull_policy(image: &str) -> &'static str {
    let name = image.rsplit('/').next().unwrap_or(image);
    let tagged = name.contains(':') || name.contains('@');
    if !tagged || name.ends_with(":latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

fn default_ports(container: &mut Map<String, Value>) {
    for port in container
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(port) = port.as_object_mut() {
            set_default(port, "protocol", json!("TCP"));
        }
    }
}

/// Defaults of a Pod spec (also inside workload templates).
fn default_pod_spec(spec: &mut Map<String, Value>) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "enableServiceLinks", json!(true));
    for list in ["initContainers", "containers"] {
        for container in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(container) = container.as_object_mut() else {
                continue;
            };
            let image = container
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            set_default(container, "imagePullPolicy", json!(pull_policy(&image)));
            set_default(
                container,
                "terminationMessagePath",
                json!("/dev/termination-log"),
            );
            set_default(container, "terminationMessagePolicy", json!("File"));
            default_ports(container);
        }
    }
}

fn default_template(object: &mut Value) {
    if let Some(spec) = object_at(object, &["spec", "template", "spec"]) {
        default_pod_spec(spec);
    }
}

/// Fills the defaults of a built-in object in place (no-op for other types).
pub(super) fn apply_builtin_defaults(resource_type: &ResourceType, object: &mut Value) {
    match (resource_type.group.as_str(), resource_type.plural.as_str()) {
        ("", "pods") => {
            if let Some(spec) = object_at(object, &["spec"]) {
                default_pod_spec(spec);
            }
        }
        ("", "services") => {
            if let Some(spec) = object_at(object, &["spec"]) {
                set_default(spec, "type", json!("ClusterIP"));
                set_default(spec, "sessionAffinity", json!("None"));
                set_default(spec, "internalTrafficPolicy", json!("Cluster"));
                for port in spec
                    .get_mut("ports")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(port) = port.as_object_mut() {
                        set_default(port, "protocol", json!("TCP"));
                        let number = port.get("port").cloned().unwrap_or(Value::Null);
                        set_default(port, "targetPort", number);
                    }
                }
            }
        }
        ("", "persistentvolumeclaims") => {
            if let Some(spec) = object_at(object, &["spec"]) {
                set_default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        ("apps", "statefulsets") => {
            if let Some(spec) = object_at(object, &["spec"]) {
                set_default(spec, "replicas", json!(1));
                set_default(spec, "podManagementPolicy", json!("OrderedReady"));
                set_default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                set_default(spec, "revisionHistoryLimit", json!(10));
                set_default(
                    spec,
                    "persistentVolumeClaimRetentionPolicy",
                    json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                );
                for claim in spec
                    .get_mut("volumeClaimTemplates")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(claim_spec) = object_at(claim, &["spec"]) {
                        set_default(claim_spec, "volumeMode", json!("Filesystem"));
                    }
                }
            }
            default_template(object);
        }
        ("apps", "deployments") => {
            if let Some(spec) = object_at(object, &["spec"]) {
                set_default(spec, "replicas", json!(1));
                set_default(
                    spec,
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
                );
                set_default(spec, "revisionHistoryLimit", json!(10));
                set_default(spec, "progressDeadlineSeconds", json!(600));
            }
            default_template(object);
        }
        ("apps", "replicasets") => {
            if let Some(spec) = object_at(object, &["spec"]) {
                set_default(spec, "replicas", json!(1));
            }
            default_template(object);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Registry;

    #[test]
    fn a_statefulset_gets_rolling_update_ordered_ready_and_pod_template_defaults() {
        let registry = Registry::default();
        let sts = registry.get("apps", "v1", "statefulsets").unwrap();
        let mut object = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "broker", "image": "fjord/broker:0.2.0", "ports": [{"containerPort": 9092}]}
        ]}}}});
        apply_builtin_defaults(&sts, &mut object);
        assert_eq!(
            object["spec"]["updateStrategy"]["rollingUpdate"]["partition"],
            0
        );
        assert_eq!(object["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(object["spec"]["replicas"], 1);
        let container = &object["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        assert_eq!(container["ports"][0]["protocol"], "TCP");
        assert_eq!(
            object["spec"]["template"]["spec"]["restartPolicy"],
            "Always"
        );
    }

    #[test]
    fn untagged_and_latest_images_are_always_pulled() {
        assert_eq!(pull_policy("busybox"), "Always");
        assert_eq!(pull_policy("registry:5000/busybox:latest"), "Always");
        assert_eq!(pull_policy("registry:5000/busybox"), "Always");
        assert_eq!(pull_policy("busybox:1.36"), "IfNotPresent");
    }

    #[test]
    fn explicit_values_are_kept() {
        let registry = Registry::default();
        let sts = registry.get("apps", "v1", "statefulsets").unwrap();
        let mut object = json!({"spec": {"updateStrategy": {"type": "OnDelete"}, "replicas": 3}});
        apply_builtin_defaults(&sts, &mut object);
        assert_eq!(
            object["spec"]["updateStrategy"],
            json!({"type": "OnDelete"})
        );
        assert_eq!(object["spec"]["replicas"], 3);
    }
}
