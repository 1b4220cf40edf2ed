//! Controller revisions: a StatefulSet's Pod template, hashed and named as
//! Kubernetes does it.
//!
//! The revision's data is the patch `{"spec":{"template":{…,"$patch":
//! "replace"}}}` of the set's template (JSON with sorted keys); its hash is
//! FNV-1a 32 of those bytes (and of `collisionCount`, when set), written in
//! decimal and then mapped character by character onto Kubernetes' "safe"
//! alphabet, which has no vowels; its name is `<set>-<hash>`. Pods carry the
//! name as their `controller-revision-hash` label, and the set's
//! `status.currentRevision`/`updateRevision` are such names.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// Kubernetes' `rand.SafeEncodeString` alphabet.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The revision data of `template`.
pub fn revision_data(template: &PodTemplateSpec) -> Result<Value> {
    let mut template = serde_json::to_value(template).map_err(|source| Error::Encode {
        what: "the pod template",
        source,
    })?;
    if let Value::Object(fields) = &mut template {
        fields.insert("$patch".into(), Value::String("replace".into()));
    }
    Ok(json!({ "spec": { "template": template } }))
}

/// The template a revision's data holds.
pub fn template_of(data: &Value) -> Result<PodTemplateSpec> {
    let mut template = data
        .pointer("/spec/template")
        .cloned()
        .ok_or(Error::Revision {
            reason: "no spec.template in revision data",
        })?;
    if let Value::Object(fields) = &mut template {
        fields.remove("$patch");
    }
    serde_json::from_value(template).map_err(|_| Error::Revision {
        reason: "spec.template of the revision data is not a pod template",
    })
}

fn fnv1a32(bytes: &[u8], mut hash: u32) -> u32 {
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The hash of revision `data`.
pub fn revision_hash(data: &Value, collision_count: Option<i32>) -> String {
    let bytes = serde_json::to_vec(data).expect("a serde_json::Value always encodes");
    let mut hash = fnv1a32(&bytes, 0x811c_9dc5);
    if let Some(count) = collision_count {
        hash = fnv1a32(&count.to_le_bytes(), hash);
    }
    hash.to_string()
        .bytes()
        .map(|digit| char::from(SAFE_ALPHABET[usize::from(digit) % SAFE_ALPHABET.len()]))
        .collect()
}

/// The revision name of `set`'s current template.
pub fn update_revision(set: &StatefulSet) -> Result<(String, Value)> {
    let template = set
        .spec
        .as_ref()
        .map(|spec| spec.template.clone())
        .unwrap_or_default();
    let data = revision_data(&template)?;
    let collision_count = set
        .status
        .as_ref()
        .and_then(|status| status.collision_count);
    let name = format!(
        "{}-{}",
        set.metadata.name.as_deref().unwrap_or_default(),
        revision_hash(&data, collision_count)
    );
    Ok((name, data))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    use super::*;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "broker".into(),
                    image: Some(image.into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            ..PodTemplateSpec::default()
        }
    }

    #[test]
    fn the_same_template_always_hashes_the_same_and_a_changed_one_differently() {
        let one = revision_hash(&revision_data(&template("a:1")).unwrap(), None);
        assert_eq!(
            one,
            revision_hash(&revision_data(&template("a:1")).unwrap(), None)
        );
        assert_ne!(
            one,
            revision_hash(&revision_data(&template("a:2")).unwrap(), None)
        );
        assert_ne!(
            one,
            revision_hash(&revision_data(&template("a:1")).unwrap(), Some(1))
        );
    }

    #[test]
    fn hashes_use_only_the_safe_alphabet() {
        let hash = revision_hash(&revision_data(&template("a:1")).unwrap(), None);
        assert!(!hash.is_empty() && hash.len() <= 10, "{hash}");
        assert!(hash.bytes().all(|b| SAFE_ALPHABET.contains(&b)), "{hash}");
    }

    #[test]
    fn a_revision_gives_back_the_template_it_was_made_from() {
        let data = revision_data(&template("a:1")).unwrap();
        assert_eq!(
            data.pointer("/spec/template/$patch"),
            Some(&json!("replace"))
        );
        assert_eq!(template_of(&data).unwrap(), template("a:1"));
    }
}
