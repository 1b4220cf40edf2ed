//! `pods/binding`: assigning a Pod to a node, as the scheduler (or a kubelet standing
//! in for one) does.

use serde_json::{Value, json};

use super::write::{FieldValidation, WriteOptions, WriteOutcome};
use super::{ApiServer, Target};
use crate::apply::PatchKind;
use crate::error::Result;
use crate::status::ApiStatus;
use crate::store::object::now_timestamp;

impl ApiServer {
    /// Binds the Pod `target` names to the node in the `Binding` body's `target.name`:
    /// sets `spec.nodeName` and the `PodScheduled` condition; 409 if already bound.
    pub fn bind_pod(
        &self,
        target: &Target,
        binding: &Value,
        manager: Option<String>,
    ) -> Result<WriteOutcome> {
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiStatus::bad_request("a Binding needs target.name"))?;
        let pod_target = Target {
            subresource: None,
            ..target.clone()
        };
        let pod = self.get(&pod_target)?;
        let name = target.name.as_deref().unwrap_or("");
        if let Some(current) = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            let mut status = ApiStatus::stale("pods", name);
            status.message = format!(
                "Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{current}\""
            );
            return Err(status.into());
        }
        let options = WriteOptions {
            field_manager: manager,
            user_agent: None,
            field_validation: FieldValidation::Ignore,
            force: false,
            dry_run: false,
        };
        let version = pod
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(Value::Null);
        let spec = json!({"metadata": {"resourceVersion": version}, "spec": {"nodeName": node}});
        self.patch(&pod_target, PatchKind::Merge, spec, &options)?;
        let scheduled = json!({"status": {"conditions": [{
            "type": "PodScheduled", "status": "True", "lastProbeTime": null,
            "lastTransitionTime": now_timestamp(),
        }]}});
        self.patch(
            &pod_target.status(),
            PatchKind::Strategic,
            scheduled,
            &options,
        )
    }
}
