//! Setting a Pod up before its containers run: the ConfigMaps and Secrets
//! it refers to, its volumes on the host, its claims marked Bound, and the
//! kubeconfig its containers get in place of a ServiceAccount token.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::error::{Error, Result};
use crate::kubelet::env::EnvSources;
use crate::kubelet::mounts::{HostVolume, VolumeContent};

/// ConfigMaps and Secrets the Pod refers to, fetched from the API (absent
/// ones are left out; the env and volume code decides if that is an error).
pub(super) async fn fetch_sources(client: &Client, pod: &Pod) -> Result<EnvSources> {
    let namespace = pod.namespace().unwrap_or_else(|| "default".into());
    let spec = pod.spec.clone().unwrap_or_default();
    let mut config_maps = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let init_containers = spec.init_containers.as_deref().unwrap_or_default();
    for container in init_containers.iter().chain(&spec.containers) {
        for from in container.env_from.as_deref().unwrap_or_default() {
            config_maps.extend(from.config_map_ref.as_ref().map(|r| r.name.clone()));
            secrets.extend(from.secret_ref.as_ref().map(|r| r.name.clone()));
        }
        for variable in container.env.as_deref().unwrap_or_default() {
            let from = variable.value_from.as_ref();
            config_maps.extend(
                from.and_then(|f| f.config_map_key_ref.as_ref())
                    .map(|r| r.name.clone()),
            );
            secrets.extend(
                from.and_then(|f| f.secret_key_ref.as_ref())
                    .map(|r| r.name.clone()),
            );
        }
    }
    for volume in spec.volumes.as_deref().unwrap_or_default() {
        config_maps.extend(volume.config_map.as_ref().map(|c| c.name.clone()));
        secrets.extend(volume.secret.as_ref().and_then(|s| s.secret_name.clone()));
    }
    let mut sources = EnvSources::default();
    let config_map_api = Api::<ConfigMap>::namespaced(client.clone(), &namespace);
    for name in config_maps {
        if let Some(map) = config_map_api.get_opt(&name).await? {
            sources
                .config_maps
                .insert(name, map.data.unwrap_or_default());
        }
    }
    let secret_api = Api::<Secret>::namespaced(client.clone(), &namespace);
    for name in secrets {
        if let Some(secret) = secret_api.get_opt(&name).await? {
            let mut data: BTreeMap<String, String> = secret.string_data.unwrap_or_default();
            for (key, value) in secret.data.unwrap_or_default() {
                data.insert(key, String::from_utf8_lossy(&value.0).into_owned());
            }
            sources.secrets.insert(name, data);
        }
    }
    Ok(sources)
}

pub(super) fn io_error(
    action: &'static str,
    path: PathBuf,
) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// Creates the volumes' directories and files on the host.
pub(super) fn prepare_volumes(volumes: &[HostVolume]) -> Result<()> {
    for volume in volumes {
        std::fs::create_dir_all(&volume.host_dir).map_err(io_error(
            "create a volume directory",
            volume.host_dir.clone(),
        ))?;
        if let VolumeContent::Files(files) = &volume.content {
            for (name, content) in files {
                let path = volume.host_dir.join(name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(io_error("create a volume directory", parent.to_owned()))?;
                }
                std::fs::write(&path, content)
                    .map_err(io_error("write a volume file", path.clone()))?;
            }
        }
    }
    Ok(())
}

/// Marks the Pod's claims Bound (this node is their provisioner: the data
/// lives in the claim's host directory).
pub(super) async fn bind_claims(client: &Client, pod: &Pod) {
    let namespace = pod.namespace().unwrap_or_else(|| "default".into());
    let api = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &namespace);
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.volumes.clone())
        .unwrap_or_default();
    for claim in volumes
        .iter()
        .filter_map(|volume| volume.persistent_volume_claim.as_ref())
    {
        let Ok(Some(current)) = api.get_opt(&claim.claim_name).await else {
            continue;
        };
        let spec = current.spec.clone().unwrap_or_default();
        let bound = current
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref())
            == Some("Bound");
        if bound {
            continue;
        }
        let capacity = spec
            .resources
            .as_ref()
            .and_then(|resources| resources.requests.clone());
        let status = json!({ "status": {
            "phase": "Bound",
            "accessModes": spec.access_modes,
            "capacity": capacity,
        }});
        if let Err(error) = api
            .patch_status(
                &claim.claim_name,
                &PatchParams::default(),
                &Patch::Merge(status),
            )
            .await
        {
            tracing::debug!(claim = %claim.claim_name, %error, "could not mark claim bound");
        }
    }
}

/// The environment variable that points a container's Kubernetes client at
/// the API server (kube's `Config::infer` and kubectl read it).
pub(super) const KUBECONFIG: &str = "KUBECONFIG";

/// Adds `KUBECONFIG` (the kubelet's Pod kubeconfig) to a container's
/// environment, unless the container sets it itself: the stand-in for the
/// ServiceAccount token and `KUBERNETES_SERVICE_*` a real kubelet provides.
pub(super) fn add_api_access(env: &mut BTreeMap<String, String>, kubeconfig: Option<&Path>) {
    if let Some(path) = kubeconfig {
        env.entry(KUBECONFIG.to_owned())
            .or_insert_with(|| path.display().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_get_the_pod_kubeconfig_unless_they_set_their_own() {
        let mut env = BTreeMap::new();
        add_api_access(&mut env, Some(Path::new("/state/kubeconfig")));
        assert_eq!(env[KUBECONFIG], "/state/kubeconfig");
        let mut own = BTreeMap::from([(KUBECONFIG.to_owned(), "/mine".to_owned())]);
        add_api_access(&mut own, Some(Path::new("/state/kubeconfig")));
        assert_eq!(own[KUBECONFIG], "/mine");
        let mut none = BTreeMap::new();
        add_api_access(&mut none, None);
        assert!(none.is_empty());
    }
}
