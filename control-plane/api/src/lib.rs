//! The types of the Fjord REST API (`/v1`).
//!
//! Everything a client sends or receives is defined here, with its OpenAPI
//! schema derived from the Rust type, so the server, the generated OpenAPI
//! document, the console's typed client and the Terraform provider cannot
//! drift apart.
//!
//! Request bodies reject unknown fields, and every request type has a
//! `validate` method that says, for a person, what is wrong with it.

mod agent;
mod api_key;
mod audit;
mod broker;
mod cloud_account;
mod cluster;
mod environment;
mod error;
mod intent;
mod intent_delta;
mod intent_hash;
mod organization;
mod page;
mod problem;
mod provisioning;
mod rollout;
mod service;
mod topic;
mod user;
pub mod validate;

pub use agent::{
    AccessToken, AgentIntentReport, AgentRegistration, AgentRegistrationRequest,
    AgentStatusAccepted, AgentStatusReport, ClusterStatusHistory, ClusterStatusReport,
    ClusterStatusSample, IntentOutcome, IntentReportRecord,
};
pub use api_key::{ApiKey, ApiKeyCreate, ApiKeyCreated, Scope};
pub use audit::AuditRecord;
pub use broker::{BROKERS_PER_CLUSTER_MAX, BrokerStatus, validate_brokers};
pub use cloud_account::{CloudAccount, CloudAccountCreate, CloudAccountUpdate};
pub use cluster::{Cluster, ClusterCreate, ClusterStatus, ClusterUpdate, Condition, Release};
pub use environment::{
    ConnectionState, Environment, EnvironmentConnection, EnvironmentCreate, EnvironmentCreated,
    EnvironmentUpdate, RegistrationToken,
};
pub use error::SignatureError;
pub use intent::{Intent, IntentCluster, IntentDocument, IntentTopic, SigningKey};
pub use intent_delta::{
    DeltaError, INTENT_DELTA_JSON, IntentChange, IntentClusterSettings, IntentDelta, diff,
};
pub use intent_hash::{
    Hash, INTENT_FORMAT, ObjectHashes, STATEMENT_LEN, parse_hash, signed_statement,
};
pub use organization::Organization;
pub use page::Page;
pub use problem::Problem;
pub use provisioning::{
    Checklist, ChecklistItem, EnvironmentNetwork, NetworkResources, NetworkSettings, NetworkSubnet,
    ProvisioningStep,
};
pub use rollout::{Operation, Rollout, RolloutClusterProgress, RolloutCreate};
pub use service::ServiceInfo;
pub use topic::{Topic, TopicCreate, TopicUpdate};
pub use user::{
    PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, Role, Session, SignIn, User, UserCreate, UserUpdate,
    check_email, check_password, normalize_email,
};

/// The media type of every error body (RFC 7807).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Configuration of a cluster or topic: Kafka-style keys to string values.
pub type ConfigMap = std::collections::BTreeMap<String, String>;
