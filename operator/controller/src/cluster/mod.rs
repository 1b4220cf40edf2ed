//! The StreamCluster controller (docs/operator.md, "Cluster controller" and
//! "Rolling upgrades"): pure rendering ([`render`]) and roll planning
//! ([`roll`]), and the reconciler that applies them ([`run`]).

pub mod admin;
mod config;
mod executor;
pub mod live;
pub mod loopback;
pub mod observe;
mod reconcile;
pub mod render;
pub mod roll;
mod scale;
pub mod status;

pub use config::Config;
pub use reconcile::run;

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "fjord-operator";

/// The finalizer on every `StreamCluster` (`<plural>.<group>`).
pub const FINALIZER: &str = "streamclusters.fjord.dev";

/// Annotation on a `StreamCluster` that lets the roll to the named revision
/// pass the health gates (docs/operator.md, "Override").
pub const OVERRIDE_ANNOTATION: &str = "fjord.dev/roll-override";
