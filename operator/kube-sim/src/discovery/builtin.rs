//! The built-in resource types, with scope, kind and plural taken from k8s-openapi.

use std::any::TypeId;

use k8s_openapi::api::{apps, coordination, core, events, policy, rbac};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::{ListableResource, NamespaceResourceScope, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::resource_type::{Origin, ResourceType};

/// Decodes into the k8s-openapi type and encodes back: checks field types as the real
/// decoder does and drops fields the type does not have.
fn normalize_as<K: DeserializeOwned + Serialize>(value: Value) -> Result<Value, serde_json::Error> {
    let typed: K = serde_json::from_value(value)?;
    serde_json::to_value(typed)
}

/// Behaviour of a built-in type beyond what k8s-openapi says.
#[derive(Clone, Copy)]
struct Traits {
    status: bool,
    generation: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
}

const PLAIN: Traits = Traits {
    status: false,
    generation: false,
    short_names: &[],
    categories: &[],
};

fn builtin<K>(traits: Traits) -> ResourceType
where
    K: Resource + ListableResource + Serialize + DeserializeOwned + 'static,
    K::Scope: 'static,
{
    ResourceType {
        group: K::GROUP.to_owned(),
        version: K::VERSION.to_owned(),
        kind: K::KIND.to_owned(),
        plural: K::URL_PATH_SEGMENT.to_owned(),
        singular: K::KIND.to_lowercase(),
        list_kind: K::LIST_KIND.to_owned(),
        namespaced: TypeId::of::<K::Scope>() == TypeId::of::<NamespaceResourceScope>(),
        short_names: traits.short_names.iter().map(|s| (*s).to_owned()).collect(),
        categories: traits.categories.iter().map(|s| (*s).to_owned()).collect(),
        status_subresource: traits.status,
        tracks_generation: traits.generation,
        origin: Origin::Builtin {
            normalize: normalize_as::<K>,
        },
    }
}

const fn short(names: &'static [&'static str]) -> Traits {
    Traits {
        short_names: names,
        ..PLAIN
    }
}

const fn with_status(names: &'static [&'static str], generation: bool) -> Traits {
    Traits {
        status: true,
        generation,
        short_names: names,
        categories: &["all"],
    }
}

/// Every built-in type the server serves.
pub(super) fn builtin_types() -> Vec<ResourceType> {
    vec![
        builtin::<core::v1::Namespace>(Traits {
            status: true,
            ..short(&["ns"])
        }),
        builtin::<core::v1::Pod>(with_status(&["po"], false)),
        builtin::<core::v1::Service>(with_status(&["svc"], false)),
        builtin::<core::v1::ConfigMap>(short(&["cm"])),
        builtin::<core::v1::Secret>(PLAIN),
        builtin::<core::v1::Event>(short(&["ev"])),
        builtin::<core::v1::ServiceAccount>(short(&["sa"])),
        builtin::<core::v1::PersistentVolumeClaim>(Traits {
            status: true,
            ..short(&["pvc"])
        }),
        builtin::<core::v1::PersistentVolume>(Traits {
            status: true,
            ..short(&["pv"])
        }),
        builtin::<core::v1::Node>(Traits {
            status: true,
            ..short(&["no"])
        }),
        builtin::<core::v1::Endpoints>(short(&["ep"])),
        builtin::<events::v1::Event>(short(&["ev"])),
        builtin::<coordination::v1::Lease>(PLAIN),
        builtin::<apps::v1::StatefulSet>(with_status(&["sts"], true)),
        builtin::<apps::v1::Deployment>(with_status(&["deploy"], true)),
        builtin::<apps::v1::ReplicaSet>(with_status(&["rs"], true)),
        builtin::<apps::v1::ControllerRevision>(PLAIN),
        builtin::<policy::v1::PodDisruptionBudget>(Traits {
            categories: &[],
            ..with_status(&["pdb"], true)
        }),
        builtin::<rbac::v1::Role>(PLAIN),
        builtin::<rbac::v1::RoleBinding>(PLAIN),
        builtin::<rbac::v1::ClusterRole>(PLAIN),
        builtin::<rbac::v1::ClusterRoleBinding>(PLAIN),
        builtin::<apiextensions::CustomResourceDefinition>(Traits {
            status: true,
            generation: true,
            short_names: &["crd", "crds"],
            categories: &["api-extensions"],
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_are_namespaced_in_the_core_group_and_namespaces_are_not() {
        let types = builtin_types();
        let pods = types.iter().find(|t| t.plural == "pods").unwrap();
        assert!(pods.namespaced && pods.group.is_empty() && pods.list_kind == "PodList");
        let namespaces = types.iter().find(|t| t.plural == "namespaces").unwrap();
        assert!(!namespaces.namespaced);
    }

    #[test]
    fn normalizing_a_builtin_drops_unknown_fields_and_rejects_wrong_types() {
        let types = builtin_types();
        let config_maps = types.iter().find(|t| t.plural == "configmaps").unwrap();
        let Origin::Builtin { normalize } = config_maps.origin else {
            panic!("configmaps are built in")
        };
        let ok = normalize(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
            "data": {"k": "v"}, "bogus": 1
        }))
        .unwrap();
        assert!(ok.get("bogus").is_none());
        assert!(
            normalize(serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
                "data": {"k": [1]}
            }))
            .is_err()
        );
    }
}
