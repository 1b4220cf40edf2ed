use super::*;
use crate::{MetadataImage, MetadataRecord};

use AclOperation::*;

fn binding(
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    principal: &str,
    operation: AclOperation,
    permission: Permission,
) -> AclBinding {
    AclBinding {
        resource_type,
        resource_name: name.into(),
        pattern_type,
        principal: principal.into(),
        host: WILDCARD.into(),
        operation,
        permission,
    }
}

fn allow_topic(name: &str, pattern: PatternType, principal: &str, op: AclOperation) -> AclBinding {
    binding(
        ResourceType::Topic,
        name,
        pattern,
        principal,
        op,
        Permission::Allow,
    )
}

fn topic<'a>(principal: &'a str, operation: AclOperation, name: &'a str) -> Action<'a> {
    Action {
        principal,
        host: "10.0.0.1",
        operation,
        resource_type: ResourceType::Topic,
        resource_name: name,
    }
}

fn allowed(set: &AclSet, action: &Action<'_>) -> bool {
    set.authorize(&Policy::default(), action).allowed()
}

#[test]
fn nothing_is_allowed_without_a_binding_unless_the_policy_says_so() {
    let set = AclSet::new();
    assert_eq!(
        set.authorize(&Policy::default(), &topic("User:alice", Read, "orders")),
        Decision::Denied
    );
    let open = Policy {
        allow_everyone_if_no_acl_found: true,
        ..Policy::default()
    };
    assert_eq!(
        set.authorize(&open, &topic("User:alice", Read, "orders")),
        Decision::AllowedNoAclFound
    );
}

#[test]
fn allow_everyone_if_no_acl_found_stops_once_a_binding_names_the_resource() {
    let set: AclSet = [allow_topic(
        "orders",
        PatternType::Literal,
        "User:bob",
        Read,
    )]
    .into_iter()
    .collect();
    let open = Policy {
        allow_everyone_if_no_acl_found: true,
        ..Policy::default()
    };
    assert_eq!(
        set.authorize(&open, &topic("User:alice", Read, "orders")),
        Decision::Denied,
        "bob's binding names orders, so alice needs her own"
    );
    assert_eq!(
        set.authorize(&open, &topic("User:alice", Read, "payments")),
        Decision::AllowedNoAclFound
    );
}

#[test]
fn super_users_skip_every_binding_even_a_deny() {
    let set: AclSet = [binding(
        ResourceType::Topic,
        "*",
        PatternType::Literal,
        "User:*",
        All,
        Permission::Deny,
    )]
    .into_iter()
    .collect();
    let policy = Policy {
        super_users: ["User:admin".to_owned()].into(),
        ..Policy::default()
    };
    assert_eq!(
        set.authorize(&policy, &topic("User:admin", Delete, "orders")),
        Decision::AllowedSuperUser
    );
    assert_eq!(
        set.authorize(&policy, &topic("User:alice", Read, "orders")),
        Decision::DeniedByBinding
    );
}

#[test]
fn literal_prefixed_and_wildcard_patterns_name_what_kafka_says() {
    let set: AclSet = [
        allow_topic("orders", PatternType::Literal, "User:lit", Read),
        allow_topic("orders.", PatternType::Prefixed, "User:pre", Read),
        allow_topic("*", PatternType::Literal, "User:wild", Read),
        allow_topic("*", PatternType::Prefixed, "User:star", Read),
    ]
    .into_iter()
    .collect();
    let cases = [
        ("User:lit", "orders", true),
        ("User:lit", "orders.eu", false),
        ("User:lit", "order", false),
        ("User:pre", "orders.eu", true),
        ("User:pre", "orders.", true),
        ("User:pre", "orders", false),
        ("User:pre", "payments.orders.", false),
        ("User:wild", "anything", true),
        ("User:wild", "*", true),
        // A prefixed `*` is the prefix "*", not a wildcard.
        ("User:star", "orders", false),
        ("User:star", "*x", true),
    ];
    for (principal, name, expected) in cases {
        assert_eq!(
            allowed(&set, &topic(principal, Read, name)),
            expected,
            "{principal} reading {name}"
        );
    }
}

#[test]
fn a_binding_is_for_one_resource_type() {
    let set: AclSet = [allow_topic("orders", PatternType::Literal, "User:a", All)]
        .into_iter()
        .collect();
    let group = Action {
        resource_type: ResourceType::Group,
        ..topic("User:a", Read, "orders")
    };
    assert!(!allowed(&set, &group));
    assert!(allowed(&set, &topic("User:a", Read, "orders")));
}

#[test]
fn wildcard_principal_and_host_match_everyone_exact_ones_only_themselves() {
    let mut only_host = allow_topic("t", PatternType::Literal, "User:*", Read);
    only_host.host = "10.0.0.9".into();
    let set: AclSet = [
        only_host,
        allow_topic("u", PatternType::Literal, "User:*", Read),
        allow_topic("v", PatternType::Literal, "User:bob", Read),
    ]
    .into_iter()
    .collect();
    assert!(
        !allowed(&set, &topic("User:alice", Read, "t")),
        "other host"
    );
    let from_nine = Action {
        host: "10.0.0.9",
        ..topic("User:alice", Read, "t")
    };
    assert!(allowed(&set, &from_nine));
    assert!(allowed(&set, &topic("User:alice", Read, "u")));
    assert!(!allowed(&set, &topic("User:alice", Read, "v")));
    assert!(allowed(&set, &topic("User:bob", Read, "v")));
    assert!(!allowed(&set, &topic("Group:bob", Read, "v")));
}

#[test]
fn allow_implies_describe_and_describe_configs_as_kafka_does() {
    for (granted, asked, expected) in [
        (Read, Describe, true),
        (Write, Describe, true),
        (Delete, Describe, true),
        (Alter, Describe, true),
        (Create, Describe, false),
        (AlterConfigs, DescribeConfigs, true),
        (DescribeConfigs, AlterConfigs, false),
        (Describe, Read, false),
        (Read, Write, false),
        (All, Create, true),
        (All, IdempotentWrite, true),
        (Alter, DescribeConfigs, false),
    ] {
        let set: AclSet = [allow_topic("t", PatternType::Literal, "User:a", granted)]
            .into_iter()
            .collect();
        assert_eq!(
            allowed(&set, &topic("User:a", asked, "t")),
            expected,
            "{granted:?} allows {asked:?}"
        );
    }
}

#[test]
fn deny_wins_over_allow_but_denies_only_its_own_operation() {
    let deny = |name: &str, pattern, op| {
        binding(
            ResourceType::Topic,
            name,
            pattern,
            "User:a",
            op,
            Permission::Deny,
        )
    };
    let set: AclSet = [
        allow_topic("*", PatternType::Literal, "User:a", All),
        deny("secret.", PatternType::Prefixed, Read),
        deny("vault", PatternType::Literal, All),
    ]
    .into_iter()
    .collect();
    assert!(allowed(&set, &topic("User:a", Read, "orders")));
    assert_eq!(
        set.authorize(&Policy::default(), &topic("User:a", Read, "secret.keys")),
        Decision::DeniedByBinding
    );
    // Denying READ does not deny DESCRIBE (no implication for denials).
    assert!(allowed(&set, &topic("User:a", Describe, "secret.keys")));
    assert!(allowed(&set, &topic("User:a", Write, "secret.keys")));
    for op in [Read, Write, Describe, Alter, Delete] {
        assert!(!allowed(&set, &topic("User:a", op, "vault")), "{op:?}");
    }
    let wildcard_deny: AclSet = [
        allow_topic("t", PatternType::Literal, "User:a", Read),
        binding(
            ResourceType::Topic,
            "t",
            PatternType::Literal,
            "User:*",
            Read,
            Permission::Deny,
        ),
    ]
    .into_iter()
    .collect();
    assert!(!allowed(&wildcard_deny, &topic("User:a", Read, "t")));
}

#[test]
fn authorize_any_finds_one_writable_topic_not_a_denied_one() {
    let set: AclSet = [
        allow_topic("orders.", PatternType::Prefixed, "User:a", Write),
        allow_topic("logs", PatternType::Literal, "User:b", Write),
        binding(
            ResourceType::Topic,
            "logs",
            PatternType::Literal,
            "User:b",
            Write,
            Permission::Deny,
        ),
    ]
    .into_iter()
    .collect();
    let policy = Policy::default();
    let any = |principal| set.authorize_any(&policy, principal, "h", Write, ResourceType::Topic);
    assert!(any("User:a"));
    assert!(!any("User:b"), "b's only allow is denied");
    assert!(!any("User:c"));
    assert!(!set.authorize_any(&policy, "User:a", "h", Read, ResourceType::Topic));
}

#[test]
fn bindings_are_checked_as_create_acls_does() {
    let good = allow_topic("t", PatternType::Literal, "User:a", Read);
    assert_eq!(good.check(), Ok(()));
    let cluster = |name: &str, op| {
        binding(
            ResourceType::Cluster,
            name,
            PatternType::Literal,
            "User:a",
            op,
            Permission::Allow,
        )
    };
    assert_eq!(cluster(CLUSTER_NAME, Alter).check(), Ok(()));
    assert_eq!(
        cluster("other", Alter).check(),
        Err(BindingError::ClusterName)
    );
    assert!(matches!(
        cluster(CLUSTER_NAME, Read).check(),
        Err(BindingError::Operation { .. })
    ));
    let group_write = binding(
        ResourceType::Group,
        "g",
        PatternType::Literal,
        "User:a",
        Write,
        Permission::Allow,
    );
    assert!(matches!(
        group_write.check(),
        Err(BindingError::Operation { .. })
    ));
    for principal in ["alice", ":alice", "User:", ""] {
        let mut bad = good.clone();
        bad.principal = principal.into();
        assert!(
            matches!(bad.check(), Err(BindingError::Principal(_))),
            "{principal}"
        );
    }
    let mut empty = good.clone();
    empty.resource_name.clear();
    assert_eq!(empty.check(), Err(BindingError::EmptyName));
    let mut no_host = good.clone();
    no_host.host.clear();
    assert_eq!(no_host.check(), Err(BindingError::EmptyHost));
    let mut long = good;
    long.resource_name = "x".repeat(2000);
    assert_eq!(long.check(), Err(BindingError::TooLong));
}

#[test]
fn kafka_codes_round_trip_and_unknown_codes_are_refused() {
    for kind in ResourceType::ALL {
        assert_eq!(ResourceType::from_code(kind.code()), Some(kind));
    }
    for op in AclOperation::EVERY {
        assert_eq!(AclOperation::from_code(op.code()), Some(op));
    }
    assert_eq!(AclOperation::from_code(1), None, "ANY is a filter value");
    assert_eq!(ResourceType::from_code(1), None);
    assert_eq!(Permission::from_code(3), Some(Permission::Allow));
    assert_eq!(Permission::from_code(2), Some(Permission::Deny));
    assert_eq!(Permission::from_code(1), None);
    assert_eq!(PatternType::from_code(4), Some(PatternType::Prefixed));
    assert_eq!(PatternType::from_code(2), None, "MATCH is a filter value");
    assert_eq!(PatternFilter::from_code(2), Some(PatternFilter::Match));
    assert_eq!(PatternFilter::from_code(0), None);
}

#[test]
fn filters_select_as_describe_and_delete_acls_do() {
    let lit = allow_topic("orders", PatternType::Literal, "User:a", Read);
    let pre = allow_topic("ord", PatternType::Prefixed, "User:a", Read);
    let wild = allow_topic("*", PatternType::Literal, "User:b", Write);
    let group = binding(
        ResourceType::Group,
        "orders",
        PatternType::Literal,
        "User:a",
        Read,
        Permission::Allow,
    );
    let set: AclSet = [lit.clone(), pre.clone(), wild.clone(), group.clone()]
        .into_iter()
        .collect();
    let select = |filter: AclFilter| set.matching(&filter).cloned().collect::<Vec<_>>();
    assert_eq!(select(AclFilter::any()).len(), 4);
    let topics = AclFilter {
        resource_type: Some(ResourceType::Topic),
        ..AclFilter::any()
    };
    assert_eq!(select(topics.clone()).len(), 3);
    let named = |pattern| AclFilter {
        resource_name: Some("orders".into()),
        pattern,
        ..topics.clone()
    };
    assert_eq!(select(named(PatternFilter::Any)), vec![lit.clone()]);
    assert_eq!(
        select(named(PatternFilter::Exactly(PatternType::Prefixed))),
        Vec::<AclBinding>::new()
    );
    let mut matched = select(named(PatternFilter::Match));
    matched.sort();
    let mut expected = vec![lit, pre.clone(), wild];
    expected.sort();
    assert_eq!(matched, expected);
    let prefixed_only = AclFilter {
        pattern: PatternFilter::Exactly(PatternType::Prefixed),
        ..AclFilter::any()
    };
    assert_eq!(select(prefixed_only), vec![pre]);
    let by_principal = AclFilter {
        principal: Some("User:a".into()),
        operation: Some(Read),
        permission: Some(Permission::Allow),
        resource_type: Some(ResourceType::Group),
        ..AclFilter::any()
    };
    assert_eq!(select(by_principal), vec![group]);
    let denials = AclFilter {
        permission: Some(Permission::Deny),
        ..AclFilter::any()
    };
    assert!(select(denials).is_empty());
}

#[test]
fn acl_records_add_and_remove_bindings_in_the_image() {
    let mut image = MetadataImage::new();
    let acl = allow_topic("orders.", PatternType::Prefixed, "User:a", Write);
    let create = MetadataRecord::CreateAcl {
        binding: acl.clone(),
    };
    let decoded = MetadataRecord::decode(&create.encode().unwrap()).unwrap();
    assert_eq!(decoded, create);
    image.apply(&decoded).unwrap();
    // Applying it twice changes nothing.
    image.apply(&create).unwrap();
    assert_eq!(image.acls().len(), 1);
    assert!(
        image
            .acls()
            .authorize(&Policy::default(), &topic("User:a", Write, "orders.eu"))
            .allowed()
    );
    image
        .apply(&MetadataRecord::DeleteAcl { binding: acl })
        .unwrap();
    assert!(image.acls().is_empty());
}

#[test]
fn invalid_bindings_are_refused_by_the_codec_and_the_state_machine() {
    let mut bad = allow_topic("t", PatternType::Literal, "nobody", Read);
    let record = MetadataRecord::CreateAcl {
        binding: bad.clone(),
    };
    assert!(record.encode().is_err());
    assert!(MetadataImage::new().validate(&record).is_err());
    bad.principal = "User:a".into();
    bad.resource_type = ResourceType::Cluster;
    assert!(
        MetadataImage::new()
            .validate(&MetadataRecord::CreateAcl { binding: bad })
            .is_err()
    );
}
