//! Parsing resource URLs: `/api/v1/...` and `/apis/<group>/<version>/...`.

/// A resource URL split into its parts (type not yet looked up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// What a path under `/api` or `/apis` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiPath {
    /// `/api/v1` or `/apis/<group>/<version>`: a resource list.
    GroupVersion {
        group: String,
        version: String,
    },
    /// `/apis/<group>`.
    Group(String),
    Resource(ResourcePath),
}

/// Parses a request path; `None` if it is not an API path.
pub(crate) fn parse(path: &str) -> Option<ApiPath> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group] => return Some(ApiPath::Group((*group).to_owned())),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let resource =
        |plural: &str, namespace: Option<&str>, name: Option<&str>, subresource: Option<&str>| {
            ApiPath::Resource(ResourcePath {
                group: group.to_owned(),
                version: version.to_owned(),
                plural: plural.to_owned(),
                namespace: namespace.map(str::to_owned),
                name: name.map(str::to_owned),
                subresource: subresource.map(str::to_owned),
            })
        };
    Some(match rest {
        [] => ApiPath::GroupVersion {
            group: group.to_owned(),
            version: version.to_owned(),
        },
        ["namespaces", namespace, "status"] if group.is_empty() => {
            resource("namespaces", None, Some(namespace), Some("status"))
        }
        ["namespaces", namespace, plural] => resource(plural, Some(namespace), None, None),
        ["namespaces", namespace, plural, name] => {
            resource(plural, Some(namespace), Some(name), None)
        }
        ["namespaces", namespace, plural, name, sub] => {
            resource(plural, Some(namespace), Some(name), Some(sub))
        }
        [plural] => resource(plural, None, None, None),
        [plural, name] => resource(plural, None, Some(name), None),
        [plural, name, sub] => resource(plural, None, Some(name), Some(sub)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> ResourcePath {
        match parse(path) {
            Some(ApiPath::Resource(resource)) => resource,
            other => panic!("{path} parsed as {other:?}"),
        }
    }

    #[test]
    fn namespaced_and_cluster_paths_split_into_their_parts() {
        let pod = resource("/api/v1/namespaces/ns/pods/web-0");
        assert_eq!(
            (
                pod.group.as_str(),
                pod.plural.as_str(),
                pod.namespace.as_deref(),
                pod.name.as_deref()
            ),
            ("", "pods", Some("ns"), Some("web-0"))
        );
        let status = resource("/apis/fjord.dev/v1alpha1/namespaces/ns/streamclusters/a/status");
        assert_eq!(status.subresource.as_deref(), Some("status"));
        let namespace = resource("/api/v1/namespaces/ns");
        assert_eq!(
            (namespace.plural.as_str(), namespace.name.as_deref()),
            ("namespaces", Some("ns"))
        );
        let all = resource("/apis/apps/v1/statefulsets");
        assert_eq!((all.namespace, all.name), (None, None));
        assert_eq!(
            parse("/apis/apps/v1"),
            Some(ApiPath::GroupVersion {
                group: "apps".into(),
                version: "v1".into()
            })
        );
        assert_eq!(parse("/apis/apps"), Some(ApiPath::Group("apps".into())));
        assert_eq!(parse("/metrics"), None);
    }
}
