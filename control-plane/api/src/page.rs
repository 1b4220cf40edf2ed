use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One page of a list. Pass `next_cursor` as `cursor` to get the next page;
/// it is absent on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
