//! A CRD's structural schema: defaults, pruning of unknown fields, validation; and the
//! list merge strategies server-side apply needs.

mod list_type;
mod structural;

pub use list_type::{ListType, ListTypes};
pub use structural::{SchemaOutcome, apply_schema};
