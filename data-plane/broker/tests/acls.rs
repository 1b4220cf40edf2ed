//! ACLs with real clients (`--authorizer=acl`): kafka-python's admin
//! creates, lists and deletes bindings; a principal allowed to write and
//! read one prefix cannot read another topic, join another group or create
//! topics (confluent-kafka, kafka-python, kcat); Metadata lists only what
//! it may describe; without an authorizer the ACL APIs answer
//! SECURITY_DISABLED.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::path::Path;

use harness::BrokerProcess;
use harness::certs::path;
use harness::secure::{kcat, secure_client, succeeded, try_secure_client};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin-secret";

/// A SASL_PLAINTEXT broker with the bootstrap super user `admin`.
fn broker(dir: &Path, extra: &[&str]) -> BrokerProcess {
    let password_file = dir.join("admin-password");
    std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).unwrap();
    let mut flags = vec![
        "--security-protocol=SASL_PLAINTEXT".to_owned(),
        "--sasl-bootstrap-user=admin".to_owned(),
        format!("--sasl-bootstrap-password-file={}", path(&password_file)),
    ];
    flags.extend(extra.iter().map(|flag| (*flag).to_owned()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    BrokerProcess::start_with(&flags)
}

fn user(name: &str, password: &str) -> Value {
    json!({
        "protocol": "SASL_PLAINTEXT",
        "mechanism": "SCRAM-SHA-512",
        "user": name,
        "password": password,
    })
}

fn kcat_as(name: &str, password: &str) -> Vec<String> {
    vec![
        "security.protocol=sasl_plaintext".to_owned(),
        "sasl.mechanisms=SCRAM-SHA-512".to_owned(),
        format!("sasl.username={name}"),
        format!("sasl.password={password}"),
        "reconnect.backoff.max.ms=500".to_owned(),
    ]
}

/// Whether a client's error text names `error` ("topic authorization
/// failed"), however the client spells it: librdkafka's
/// `TOPIC_AUTHORIZATION_FAILED` or "Topic authorization failed",
/// kafka-python's `TopicAuthorizationFailedError`.
fn names(text: &str, error: &str) -> bool {
    let squash = |text: &str| text.to_lowercase().replace(['_', ' '], "");
    squash(text).contains(&squash(error))
}

/// The bindings that let alice write and read `orders.*` in the group
/// `orders-app`, as kafka-python's admin sends them.
fn alice_bindings() -> String {
    json!([
        [
            "TOPIC",
            "orders.",
            "PREFIXED",
            "User:alice",
            "WRITE",
            "ALLOW"
        ],
        [
            "TOPIC",
            "orders.",
            "PREFIXED",
            "User:alice",
            "READ",
            "ALLOW"
        ],
        [
            "GROUP",
            "orders-app",
            "LITERAL",
            "User:alice",
            "READ",
            "ALLOW"
        ],
    ])
    .to_string()
}

#[test]
fn a_principal_allowed_one_prefix_cannot_read_other_topics_join_other_groups_or_create_topics() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), &["--authorizer=acl"]);
    let admin = user("admin", ADMIN_PASSWORD);
    let alice = user("alice", "alice-pw");
    secure_client(
        "confluent",
        &broker,
        &admin,
        &["alter-user", "alice", "SCRAM-SHA-512", "alice-pw"],
    );
    // The super user needs no binding: it creates both topics.
    for topic in ["orders.eu", "payments"] {
        assert_eq!(
            secure_client("confluent", &broker, &admin, &["produce", topic, "1"]),
            "ok"
        );
    }
    // Without a binding alice sees nothing and may write nothing.
    assert_eq!(
        secure_client("kafka-python", &broker, &alice, &["list-topics"]),
        json!([])
    );
    let refused = try_secure_client("confluent", &broker, &alice, &["produce", "orders.eu", "1"])
        .unwrap_err();
    assert!(names(&refused, "topic authorization failed"), "{refused}");

    assert_eq!(
        secure_client(
            "kafka-python",
            &broker,
            &admin,
            &["create-acls", &alice_bindings()]
        ),
        "ok"
    );
    assert_eq!(
        secure_client("kafka-python", &broker, &alice, &["list-topics"]),
        json!(["orders.eu"]),
        "metadata lists only the topics alice may describe"
    );
    assert_eq!(
        secure_client("confluent", &broker, &alice, &["produce", "orders.eu", "2"]),
        "ok"
    );
    assert_eq!(
        secure_client(
            "confluent",
            &broker,
            &alice,
            &["consume-group", "orders.eu", "3", "orders-app"]
        ),
        json!(["value-0", "value-0", "value-1"])
    );

    // Another topic, in her own group.
    let refused = try_secure_client(
        "confluent",
        &broker,
        &alice,
        &["consume-group", "payments", "1", "orders-app"],
    )
    .unwrap_err();
    assert!(names(&refused, "topic authorization failed"), "{refused}");
    // Her topic, in another group.
    let refused = try_secure_client(
        "confluent",
        &broker,
        &alice,
        &["consume-group", "orders.eu", "1", "payments-app"],
    )
    .unwrap_err();
    assert!(names(&refused, "group authorization failed"), "{refused}");
    // Creating a topic, even under her prefix, needs CREATE.
    let refused = try_secure_client(
        "kafka-python",
        &broker,
        &alice,
        &["create-topic", "orders.us"],
    )
    .unwrap_err();
    assert!(names(&refused, "topic authorization failed"), "{refused}");
    // Nor does producing auto-create it (kcat's exit status is not what
    // tells: the topic list is).
    kcat(
        &broker,
        &kcat_as("alice", "alice-pw"),
        &["-P", "-t", "orders.auto", "-X", "message.timeout.ms=3000"],
        "x\n",
    );
    assert_eq!(
        secure_client("kafka-python", &broker, &admin, &["list-topics"]),
        json!(["orders.eu", "payments"])
    );

    // Clients stop at the first refusal (Metadata, FindCoordinator): the
    // DESCRIBE checks are what alice's attempts were denied on.
    for (operation, resource_type) in [
        ("describe", "topic"),
        ("describe", "group"),
        ("create", "topic"),
    ] {
        let denials = broker.metric(&format!(
            "fjord_broker_authorization_denials_total{{operation=\"{operation}\",resource_type=\"{resource_type}\"}}"
        ));
        assert!(denials >= 1.0, "{operation} {resource_type}: {denials}");
    }
}

#[test]
fn kafka_python_admin_creates_lists_and_deletes_acls_and_only_admins_may() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = broker(dir.path(), &["--authorizer=acl"]);
    let admin = user("admin", ADMIN_PASSWORD);
    secure_client(
        "confluent",
        &broker,
        &admin,
        &["alter-user", "alice", "SCRAM-SHA-512", "alice-pw"],
    );
    secure_client(
        "kafka-python",
        &broker,
        &admin,
        &["create-acls", &alice_bindings()],
    );
    let expected = json!([
        [
            "GROUP",
            "orders-app",
            "LITERAL",
            "User:alice",
            "*",
            "READ",
            "ALLOW"
        ],
        [
            "TOPIC",
            "orders.",
            "PREFIXED",
            "User:alice",
            "*",
            "READ",
            "ALLOW"
        ],
        [
            "TOPIC",
            "orders.",
            "PREFIXED",
            "User:alice",
            "*",
            "WRITE",
            "ALLOW"
        ],
    ]);
    assert_eq!(
        secure_client("kafka-python", &broker, &admin, &["describe-acls"]),
        expected
    );
    // A binding Kafka would not take is refused, not stored.
    let group_write = json!([["GROUP", "g", "LITERAL", "User:alice", "WRITE", "ALLOW"]]);
    let refused = try_secure_client(
        "kafka-python",
        &broker,
        &admin,
        &["create-acls", &group_write.to_string()],
    )
    .unwrap_err();
    assert!(names(&refused, "invalid request"), "{refused}");
    // Alice may not list or change bindings.
    let alice = user("alice", "alice-pw");
    for action in [
        vec!["describe-acls"],
        vec!["create-acls", &alice_bindings()],
    ] {
        let refused = try_secure_client("kafka-python", &broker, &alice, &action).unwrap_err();
        assert!(
            names(&refused, "cluster authorization failed"),
            "{action:?}: {refused}"
        );
    }
    // A single broker keeps them across a restart.
    broker.terminate_and_restart();
    assert_eq!(
        secure_client("kafka-python", &broker, &admin, &["describe-acls"]),
        expected
    );
    assert_eq!(
        secure_client(
            "kafka-python",
            &broker,
            &admin,
            &["delete-acls", "User:alice"]
        ),
        expected
    );
    assert_eq!(
        secure_client("kafka-python", &broker, &admin, &["describe-acls"]),
        json!([])
    );
}

#[test]
fn without_an_authorizer_everything_is_allowed_and_the_acl_apis_are_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker(dir.path(), &[]);
    let admin = user("admin", ADMIN_PASSWORD);
    let refused =
        try_secure_client("kafka-python", &broker, &admin, &["describe-acls"]).unwrap_err();
    assert!(names(&refused, "security disabled"), "{refused}");
    secure_client(
        "confluent",
        &broker,
        &admin,
        &["alter-user", "bob", "SCRAM-SHA-512", "bob-pw"],
    );
    let bob = kcat_as("bob", "bob-pw");
    succeeded(&kcat(&broker, &bob, &["-P", "-t", "anything"], "x\n"));
}
