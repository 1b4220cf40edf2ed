//! The StreamCluster controller (docs/operator.md, "Cluster controller" and
//! "Rolling upgrades"): pure rendering ([`render`]) and roll planning
//! ([`roll`]).

pub mod render;
pub mod roll;

/// The field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "fjord-operator";
