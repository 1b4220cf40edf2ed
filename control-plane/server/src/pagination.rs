//! Cursor pagination: `?limit=&cursor=`, where the cursor is opaque to
//! clients (base64url of the last row's UUIDv7 id, which orders rows by
//! creation).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fjord_api::Page;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::AppError;

const LIMIT_DEFAULT: u32 = 50;
const LIMIT_MAX: u32 = 200;

/// `?limit=&cursor=` of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Largest number of items to return, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{22}$")]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The store's page request: one more row than asked, to know whether a
    /// next page exists.
    pub(crate) fn request(&self) -> Result<fjord_store::PageRequest, AppError> {
        let limit = self.limit()?;
        let after = self.cursor.as_deref().map(decode).transpose()?;
        Ok(fjord_store::PageRequest {
            after,
            limit: i64::from(limit) + 1,
        })
    }

    fn limit(&self) -> Result<u32, AppError> {
        let limit = self.limit.unwrap_or(LIMIT_DEFAULT);
        if !(1..=LIMIT_MAX).contains(&limit) {
            return Err(AppError::BadRequest(format!(
                "limit must be between 1 and {LIMIT_MAX}, got {limit}"
            )));
        }
        Ok(limit)
    }

    /// Turns the fetched rows (one more than the limit when there is a next
    /// page) into a page of API items.
    pub(crate) fn page<R, T>(
        &self,
        mut rows: Vec<R>,
        id: impl Fn(&R) -> Uuid,
        convert: impl Fn(R) -> T,
    ) -> Result<Page<T>, AppError> {
        let limit = usize::try_from(self.limit()?).map_err(anyhow::Error::new)?;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|row| encode(id(row)))
        } else {
            None
        };
        Ok(Page {
            items: rows.into_iter().map(convert).collect(),
            next_cursor,
        })
    }
}

fn encode(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode(cursor: &str) -> Result<Uuid, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| AppError::BadRequest("cursor is not one this API returned".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() -> Result<(), AppError> {
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(id))?, id);
        assert!(decode("not a cursor").is_err());
        assert!(decode("AAAA").is_err());
        Ok(())
    }
}
