//! Table columns of the built-in types kubectl users look at most, as the API server
//! prints them. A column's path either is a JSONPath or, starting with `=`, names a
//! value computed from the whole object.

use serde_json::{Value, json};

use crate::discovery::ResourceType;

/// (name, type, format, description, priority, path) of a column.
pub(super) type Column = (String, String, String, String, i64, String);

fn column(name: &str, column_type: &str, path: &str) -> Column {
    (
        name.to_owned(),
        column_type.to_owned(),
        String::new(),
        String::new(),
        0,
        path.to_owned(),
    )
}

/// Columns between Name and Age for a built-in type, if it has its own.
pub(super) fn builtin_columns(resource_type: &ResourceType) -> Option<Vec<Column>> {
    let columns = match (resource_type.group.as_str(), resource_type.plural.as_str()) {
        ("", "pods") => vec![
            column("Ready", "string", "=podReady"),
            column("Status", "string", "=podStatus"),
            column("Restarts", "string", "=podRestarts"),
        ],
        ("", "namespaces") => vec![column("Status", "string", ".status.phase")],
        ("", "services") => vec![
            column("Type", "string", ".spec.type"),
            column("Cluster-IP", "string", "=serviceClusterIp"),
            column("Ports", "string", "=servicePorts"),
        ],
        ("", "persistentvolumeclaims") => vec![column("Status", "string", ".status.phase")],
        ("apps", "statefulsets") => vec![column("Ready", "string", "=replicasReady")],
        ("apps", "deployments") => vec![
            column("Ready", "string", "=replicasReady"),
            column("Up-to-date", "integer", "=updatedReplicas"),
            column("Available", "integer", "=availableReplicas"),
        ],
        _ => return None,
    };
    Some(columns)
}

fn number(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The value of a computed column.
pub(super) fn computed(name: &str, object: &Value) -> Value {
    let statuses = object
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    match name {
        "podReady" => {
            let total = object
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses.map_or(0, |s| s.iter().filter(|c| c["ready"] == true).count());
            json!(format!("{ready}/{total}"))
        }
        "podStatus" => {
            if object
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|t| !t.is_null())
            {
                return json!("Terminating");
            }
            let waiting = statuses.and_then(|s| {
                s.iter()
                    .find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str))
            });
            let phase = object
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("Unknown");
            json!(waiting.unwrap_or(phase))
        }
        "podRestarts" => {
            let restarts: i64 = statuses.map_or(0, |s| {
                s.iter()
                    .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                    .sum()
            });
            json!(restarts.to_string())
        }
        "serviceClusterIp" => {
            json!(
                object
                    .pointer("/spec/clusterIP")
                    .and_then(Value::as_str)
                    .unwrap_or("<none>")
            )
        }
        "servicePorts" => {
            let ports: Vec<String> = object
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
                .collect();
            json!(if ports.is_empty() {
                "<none>".to_owned()
            } else {
                ports.join(",")
            })
        }
        "replicasReady" => {
            json!(format!(
                "{}/{}",
                number(object, "/status/readyReplicas"),
                number(object, "/spec/replicas")
            ))
        }
        "updatedReplicas" => json!(number(object, "/status/updatedReplicas")),
        "availableReplicas" => json!(number(object, "/status/availableReplicas")),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_columns_count_ready_containers_restarts_and_show_terminating() {
        let pod = json!({
            "metadata": {"name": "web-0"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2},
                {"name": "b", "ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]}
        });
        assert_eq!(computed("podReady", &pod), "1/2");
        assert_eq!(computed("podRestarts", &pod), "3");
        assert_eq!(computed("podStatus", &pod), "CrashLoopBackOff");
        let mut deleting = pod.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-12-07T00:00:00Z");
        assert_eq!(computed("podStatus", &deleting), "Terminating");
    }
}
