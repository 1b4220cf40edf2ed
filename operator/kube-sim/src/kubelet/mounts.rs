//! Volumes on the host, and how a container's mount paths reach them.
//!
//! A process cannot have its own mount namespace here, so each volume is a
//! host directory under the kubelet's state directory, and the kubelet
//! rewrites the container's paths: in every argument, env value and the
//! working directory, a mount path (`/var/lib/fjord`) standing alone or
//! followed by `/` becomes the volume's host directory (longest mount path
//! first; a path counts when it starts the text or follows `=`, `:`, `,`,
//! a space or a quote). Layout under the state directory:
//!
//! | volume | host directory | lifetime |
//! |---|---|---|
//! | `persistentVolumeClaim` | `volumes/<ns>/<claim>` | the claim's: survives Pod replacement |
//! | `emptyDir`, `configMap`, `secret` | `pods/<ns>/<pod>_<uid>/volumes/<volume>` | the Pod's |
//! | `hostPath` | the path itself | the host's |
//!
//! A `subPath` mount is the subdirectory of its volume.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Pod, Volume};

use super::env::EnvSources;
use crate::error::{Error, Result};

/// Where the kubelet keeps things under its state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLayout {
    pub state_dir: PathBuf,
}

impl HostLayout {
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
        }
    }

    /// A PersistentVolumeClaim's data directory.
    pub fn claim_dir(&self, namespace: &str, claim: &str) -> PathBuf {
        self.state_dir.join("volumes").join(namespace).join(claim)
    }

    /// The directory of one Pod incarnation (its logs and Pod-lived volumes).
    pub fn pod_dir(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.state_dir
            .join("pods")
            .join(namespace)
            .join(format!("{name}_{uid}"))
    }

    /// The cluster DNS hosts file.
    pub fn hosts_file(&self) -> PathBuf {
        self.state_dir.join("hosts")
    }
}

/// What a volume's directory must hold before the container starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeContent {
    /// A directory, kept if it exists.
    Directory,
    /// Files written afresh (ConfigMap, Secret).
    Files(BTreeMap<String, String>),
}

/// One volume of a Pod, on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolume {
    pub name: String,
    pub host_dir: PathBuf,
    pub content: VolumeContent,
}

fn projected_files(
    kind: &'static str,
    sources: &BTreeMap<String, BTreeMap<String, String>>,
    name: &str,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
    optional: Option<bool>,
) -> Result<VolumeContent> {
    let Some(data) = sources.get(name) else {
        if optional == Some(true) {
            return Ok(VolumeContent::Files(BTreeMap::new()));
        }
        return Err(Error::ContainerConfig {
            reason: format!("{kind} {name:?} for a volume not found"),
        });
    };
    let files = match items {
        Some(items) => items
            .iter()
            .filter_map(|item| {
                data.get(&item.key)
                    .map(|value| (item.path.clone(), value.clone()))
            })
            .collect(),
        None => data.clone(),
    };
    Ok(VolumeContent::Files(files))
}

/// The Pod's volumes on the host.
pub fn host_volumes(
    pod: &Pod,
    layout: &HostLayout,
    sources: &EnvSources,
) -> Result<Vec<HostVolume>> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let uid = pod.metadata.uid.as_deref().unwrap_or("no-uid");
    let pod_dir = layout.pod_dir(namespace, name, uid);
    let volumes: &[Volume] = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.volumes.as_deref())
        .unwrap_or_default();
    let mut host = Vec::with_capacity(volumes.len());
    for volume in volumes {
        let pod_lived = pod_dir.join("volumes").join(&volume.name);
        let (host_dir, content) = if let Some(claim) = &volume.persistent_volume_claim {
            (
                layout.claim_dir(namespace, &claim.claim_name),
                VolumeContent::Directory,
            )
        } else if volume.empty_dir.is_some() {
            (pod_lived, VolumeContent::Directory)
        } else if let Some(path) = &volume.host_path {
            (PathBuf::from(&path.path), VolumeContent::Directory)
        } else if let Some(map) = &volume.config_map {
            let content = projected_files(
                "ConfigMap",
                &sources.config_maps,
                &map.name,
                map.items.as_deref(),
                map.optional,
            )?;
            (pod_lived, content)
        } else if let Some(secret) = &volume.secret {
            let secret_name = secret.secret_name.clone().unwrap_or_default();
            let content = projected_files(
                "Secret",
                &sources.secrets,
                &secret_name,
                secret.items.as_deref(),
                secret.optional,
            )?;
            (pod_lived, content)
        } else {
            return Err(Error::ContainerConfig {
                reason: format!("volume {:?} is of a kind not supported here", volume.name),
            });
        };
        host.push(HostVolume {
            name: volume.name.clone(),
            host_dir,
            content,
        });
    }
    Ok(host)
}

/// Container mount paths → host directories, for rewriting paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountMap {
    /// Longest container path first.
    mounts: Vec<(String, String)>,
}

impl MountMap {
    /// The mounts of `container` over the Pod's `volumes`.
    pub fn new(
        container: &k8s_openapi::api::core::v1::Container,
        volumes: &[HostVolume],
    ) -> Result<Self> {
        let mut mounts = Vec::new();
        for mount in container.volume_mounts.as_deref().unwrap_or_default() {
            let volume = volumes
                .iter()
                .find(|v| v.name == mount.name)
                .ok_or_else(|| Error::ContainerConfig {
                    reason: format!("volumeMount {:?} names no volume of the Pod", mount.name),
                })?;
            let mut host_dir = volume.host_dir.clone();
            if let Some(sub_path) = mount.sub_path.as_deref().filter(|s| !s.is_empty()) {
                host_dir = host_dir.join(sub_path);
            }
            let container_path = mount.mount_path.trim_end_matches('/').to_owned();
            mounts.push((container_path, host_dir.to_string_lossy().into_owned()));
        }
        mounts.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(Self { mounts })
    }

    /// `text` with every mounted container path replaced by its host path.
    pub fn rewrite(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut index = 0;
        'scan: while index < text.len() {
            let starts_word =
                index == 0 || text[..index].ends_with(['=', ':', ',', ' ', '"', '\'']);
            if starts_word {
                for (container_path, host_path) in &self.mounts {
                    let rest = &text[index..];
                    if container_path.is_empty() || !rest.starts_with(container_path.as_str()) {
                        continue;
                    }
                    let after = &rest[container_path.len()..];
                    if after.is_empty() || after.starts_with(['/', ',', ' ', ':', '"', '\'']) {
                        out.push_str(host_path);
                        index += container_path.len();
                        continue 'scan;
                    }
                }
            }
            let next = text[index..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[index..index + next]);
            index += next;
        }
        out
    }

    /// A container path as a host path (the working directory).
    pub fn host_path(&self, container_path: &str) -> PathBuf {
        Path::new(&self.rewrite(container_path)).to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, VolumeMount};

    use super::*;

    fn map() -> MountMap {
        let volumes = vec![
            HostVolume {
                name: "data".into(),
                host_dir: "/state/volumes/acme/data-broker-0".into(),
                content: VolumeContent::Directory,
            },
            HostVolume {
                name: "config".into(),
                host_dir: "/state/pods/acme/broker-0_u/volumes/config".into(),
                content: VolumeContent::Directory,
            },
        ];
        let mount = |name: &str, path: &str| VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            ..VolumeMount::default()
        };
        let container = Container {
            volume_mounts: Some(vec![
                mount("data", "/var/lib/fjord"),
                mount("config", "/var/lib/fjord/config/"),
            ]),
            ..Container::default()
        };
        MountMap::new(&container, &volumes).unwrap()
    }

    #[test]
    fn mount_paths_in_arguments_become_host_paths() {
        let map = map();
        assert_eq!(
            map.rewrite("/var/lib/fjord"),
            "/state/volumes/acme/data-broker-0"
        );
        assert_eq!(
            map.rewrite("--data-dir=/var/lib/fjord/log"),
            "--data-dir=/state/volumes/acme/data-broker-0/log"
        );
        assert_eq!(
            map.rewrite("--config /var/lib/fjord/config/broker.toml"),
            "--config /state/pods/acme/broker-0_u/volumes/config/broker.toml"
        );
    }

    #[test]
    fn a_path_that_only_shares_a_prefix_is_left_alone() {
        let map = map();
        assert_eq!(map.rewrite("/var/lib/fjordx"), "/var/lib/fjordx");
        assert_eq!(map.rewrite("x/var/lib/fjord"), "x/var/lib/fjord");
    }

    #[test]
    fn a_mount_of_no_volume_is_a_config_error() {
        let container = Container {
            volume_mounts: Some(vec![VolumeMount {
                name: "missing".into(),
                mount_path: "/x".into(),
                ..VolumeMount::default()
            }]),
            ..Container::default()
        };
        assert!(MountMap::new(&container, &[]).is_err());
    }
}
