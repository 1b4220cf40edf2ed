//! The process that stands for a container (pure): program, arguments,
//! environment and working directory.
//!
//! As in Kubernetes, `command` replaces the image's entrypoint and `args`
//! its default arguments; both are `$(VAR)`-expanded with the container's
//! environment. Without `command` the program is the binary the image table
//! maps the image to; with it, `command[0]` is run as a host path (or looked
//! up on the kubelet's `PATH`). Mount paths are then rewritten to host paths
//! (see `mounts`). The environment is only the Pod's (plus `HOSTNAME` and
//! the kubelet's `PATH` unless the Pod sets them), not the kubelet's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Container;

use super::expand::expand;
use super::image::ImageTable;
use super::mounts::MountMap;
use crate::error::Result;

/// Everything needed to start the container's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPlan {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub working_dir: PathBuf,
}

/// Builds the process of `container`, whose environment is `env`.
pub fn launch_plan(
    container: &Container,
    pod_name: &str,
    images: &ImageTable,
    env: &BTreeMap<String, String>,
    mounts: &MountMap,
    default_working_dir: &Path,
    kubelet_path: Option<&str>,
) -> Result<LaunchPlan> {
    let lookup = |name: &str| env.get(name).map(String::as_str);
    let command: Vec<String> = container
        .command
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|part| mounts.rewrite(&expand(part, lookup)))
        .collect();
    let container_args = container
        .args
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|part| mounts.rewrite(&expand(part, lookup)));
    let (program, mut args) = match command.split_first() {
        Some((program, rest)) => (PathBuf::from(program), rest.to_vec()),
        None => {
            let image = container.image.as_deref().unwrap_or_default();
            (images.resolve(image)?.to_path_buf(), Vec::new())
        }
    };
    args.extend(container_args);
    let mut process_env: BTreeMap<String, String> = env
        .iter()
        .map(|(name, value)| (name.clone(), mounts.rewrite(value)))
        .collect();
    process_env
        .entry("HOSTNAME".into())
        .or_insert_with(|| pod_name.to_owned());
    if let Some(path) = kubelet_path {
        process_env
            .entry("PATH".into())
            .or_insert_with(|| path.to_owned());
    }
    let working_dir = container.working_dir.as_deref().map_or_else(
        || default_working_dir.to_path_buf(),
        |dir| mounts.host_path(dir),
    );
    Ok(LaunchPlan {
        program,
        args,
        env: process_env,
        working_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> ImageTable {
        let mut images = ImageTable::default();
        images.insert("fjord/broker:0.2.0", "/opt/fjord-broker");
        images
    }

    #[test]
    fn the_image_entrypoint_runs_with_expanded_args() {
        let container = Container {
            image: Some("fjord/broker:0.2.0".into()),
            args: Some(vec!["--listen=$(POD_IP):9092".into(), "$(UNKNOWN)".into()]),
            ..Container::default()
        };
        let env = BTreeMap::from([("POD_IP".to_owned(), "127.1.0.3".to_owned())]);
        let plan = launch_plan(
            &container,
            "broker-0",
            &images(),
            &env,
            &MountMap::default(),
            Path::new("/w"),
            Some("/bin"),
        )
        .unwrap();
        assert_eq!(plan.program, PathBuf::from("/opt/fjord-broker"));
        assert_eq!(plan.args, ["--listen=127.1.0.3:9092", "$(UNKNOWN)"]);
        assert_eq!(plan.env["HOSTNAME"], "broker-0");
        assert_eq!(plan.env["PATH"], "/bin");
        assert_eq!(plan.working_dir, PathBuf::from("/w"));
    }

    #[test]
    fn a_command_replaces_the_entrypoint_and_args_follow_it() {
        let container = Container {
            image: Some("not/in-the-table".into()),
            command: Some(vec!["/bin/sh".into(), "-c".into()]),
            args: Some(vec!["exec $$0 $(N)".into()]),
            ..Container::default()
        };
        let env = BTreeMap::from([("N".to_owned(), "1".to_owned())]);
        let plan = launch_plan(
            &container,
            "p",
            &images(),
            &env,
            &MountMap::default(),
            Path::new("/w"),
            None,
        )
        .unwrap();
        assert_eq!(plan.program, PathBuf::from("/bin/sh"));
        assert_eq!(plan.args, ["-c", "exec $0 1"]);
    }

    #[test]
    fn an_image_missing_from_the_table_cannot_launch() {
        let container = Container {
            image: Some("nginx:1".into()),
            ..Container::default()
        };
        let error = launch_plan(
            &container,
            "p",
            &images(),
            &BTreeMap::new(),
            &MountMap::default(),
            Path::new("/w"),
            None,
        );
        assert!(error.is_err());
    }
}
