//! A container's environment from its Pod spec (pure): `envFrom` first, then
//! `env` in order, each value `$(VAR)`-expanded against the variables
//! defined before it, as the kubelet does. Values come from literals, the
//! downward API (`fieldRef`) and ConfigMap/Secret keys the caller has
//! already fetched. Kubernetes' Service environment variables
//! (`FOO_SERVICE_HOST`) are not injected.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EnvVar, Pod};

use super::expand::expand;
use crate::error::{Error, Result};

/// ConfigMaps and Secrets of the Pod's namespace: name → key → value.
#[derive(Debug, Clone, Default)]
pub struct EnvSources {
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
}

/// The downward API's values for one Pod.
#[derive(Debug, Clone)]
pub struct Downward<'a> {
    pub pod: &'a Pod,
    pub pod_address: &'a str,
    pub host_address: &'a str,
    pub node_name: &'a str,
}

impl Downward<'_> {
    /// The value of `fieldRef.fieldPath`.
    pub fn field(&self, path: &str) -> Option<String> {
        let metadata = &self.pod.metadata;
        let spec = self.pod.spec.as_ref();
        let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| {
            let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
            Some(map?.get(key).cloned().unwrap_or_default())
        };
        match path {
            "metadata.name" => metadata.name.clone(),
            "metadata.namespace" => Some(
                metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into()),
            ),
            "metadata.uid" => metadata.uid.clone(),
            "spec.nodeName" => Some(
                spec.and_then(|spec| spec.node_name.clone())
                    .unwrap_or_else(|| self.node_name.to_owned()),
            ),
            "spec.serviceAccountName" => Some(
                spec.and_then(|spec| spec.service_account_name.clone())
                    .unwrap_or_else(|| "default".into()),
            ),
            "status.podIP" | "status.podIPs" => Some(self.pod_address.to_owned()),
            "status.hostIP" | "status.hostIPs" => Some(self.host_address.to_owned()),
            _ => keyed("metadata.labels['", metadata.labels.as_ref())
                .or_else(|| keyed("metadata.annotations['", metadata.annotations.as_ref())),
        }
    }
}

fn lookup_key(
    kind: &'static str,
    sources: &BTreeMap<String, BTreeMap<String, String>>,
    name: &str,
    key: &str,
    optional: Option<bool>,
) -> Result<Option<String>> {
    match sources.get(name).and_then(|data| data.get(key)) {
        Some(value) => Ok(Some(value.clone())),
        None if optional == Some(true) => Ok(None),
        None => Err(Error::ContainerConfig {
            reason: format!("{kind} {name:?} has no key {key:?}"),
        }),
    }
}

fn value_of(
    variable: &EnvVar,
    downward: &Downward<'_>,
    sources: &EnvSources,
) -> Result<Option<String>> {
    let Some(from) = &variable.value_from else {
        return Ok(Some(variable.value.clone().unwrap_or_default()));
    };
    if let Some(field) = &from.field_ref {
        return downward
            .field(&field.field_path)
            .map(Some)
            .ok_or_else(|| Error::ContainerConfig {
                reason: format!(
                    "unsupported fieldRef {:?} in env {}",
                    field.field_path, variable.name
                ),
            });
    }
    if let Some(key) = &from.config_map_key_ref {
        return lookup_key(
            "ConfigMap",
            &sources.config_maps,
            &key.name,
            &key.key,
            key.optional,
        );
    }
    if let Some(key) = &from.secret_key_ref {
        return lookup_key(
            "Secret",
            &sources.secrets,
            &key.name,
            &key.key,
            key.optional,
        );
    }
    Err(Error::ContainerConfig {
        reason: format!(
            "env {} uses a valueFrom source not supported here",
            variable.name
        ),
    })
}

/// The container's environment, in definition order (later wins).
pub fn container_env(
    container: &Container,
    downward: &Downward<'_>,
    sources: &EnvSources,
) -> Result<BTreeMap<String, String>> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for from in container.env_from.as_deref().unwrap_or_default() {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        let (kind, map, name, optional) = if let Some(reference) = &from.config_map_ref {
            (
                "ConfigMap",
                &sources.config_maps,
                &reference.name,
                reference.optional,
            )
        } else if let Some(reference) = &from.secret_ref {
            (
                "Secret",
                &sources.secrets,
                &reference.name,
                reference.optional,
            )
        } else {
            continue;
        };
        match map.get(name) {
            Some(data) => {
                for (key, value) in data {
                    env.insert(format!("{prefix}{key}"), value.clone());
                }
            }
            None if optional == Some(true) => {}
            None => {
                return Err(Error::ContainerConfig {
                    reason: format!("{kind} {name:?} not found"),
                });
            }
        }
    }
    for variable in container.env.as_deref().unwrap_or_default() {
        if let Some(value) = value_of(variable, downward, sources)? {
            let expanded = expand(&value, |name| env.get(name).map(String::as_str));
            env.insert(variable.name.clone(), expanded);
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{EnvVarSource, ObjectFieldSelector, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn field(name: &str, path: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: path.into(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        }
    }

    fn literal(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            ..EnvVar::default()
        }
    }

    #[test]
    fn the_downward_api_and_earlier_variables_fill_the_environment() {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some("broker-1".into()),
                namespace: Some("acme".into()),
                labels: Some(BTreeMap::from([(
                    "apps.kubernetes.io/pod-index".into(),
                    "1".into(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec::default()),
            ..Pod::default()
        };
        let container = Container {
            env: Some(vec![
                field("POD_IP", "status.podIP"),
                field("POD_NAME", "metadata.name"),
                field("POD_NAMESPACE", "metadata.namespace"),
                field("INDEX", "metadata.labels['apps.kubernetes.io/pod-index']"),
                literal("LISTEN", "$(POD_IP):9092"),
                literal("LATER", "$(DEFINED_AFTER)"),
                literal("DEFINED_AFTER", "x"),
            ]),
            ..Container::default()
        };
        let downward = Downward {
            pod: &pod,
            pod_address: "127.1.0.7",
            host_address: "127.0.0.1",
            node_name: "sim",
        };
        let env = container_env(&container, &downward, &EnvSources::default()).unwrap();
        assert_eq!(env["POD_NAME"], "broker-1");
        assert_eq!(env["POD_NAMESPACE"], "acme");
        assert_eq!(env["INDEX"], "1");
        assert_eq!(env["LISTEN"], "127.1.0.7:9092");
        assert_eq!(env["LATER"], "$(DEFINED_AFTER)");
    }

    #[test]
    fn a_missing_config_map_key_is_a_config_error_unless_optional() {
        let pod = Pod::default();
        let downward = Downward {
            pod: &pod,
            pod_address: "127.1.0.7",
            host_address: "127.0.0.1",
            node_name: "sim",
        };
        let mut variable = EnvVar {
            name: "X".into(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(k8s_openapi::api::core::v1::ConfigMapKeySelector {
                    name: "settings".into(),
                    key: "x".into(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        };
        let container = Container {
            env: Some(vec![variable.clone()]),
            ..Container::default()
        };
        assert!(container_env(&container, &downward, &EnvSources::default()).is_err());
        if let Some(reference) = variable
            .value_from
            .as_mut()
            .and_then(|v| v.config_map_key_ref.as_mut())
        {
            reference.optional = Some(true);
        }
        let container = Container {
            env: Some(vec![variable]),
            ..Container::default()
        };
        let env = container_env(&container, &downward, &EnvSources::default()).unwrap();
        assert!(!env.contains_key("X"));
    }
}
