//! The two reads every tenant table shares, each written once: one row by
//! its id, and a page of rows in id order (keyset paging: the page after
//! an id, so a page costs the same however deep it is).
//!
//! Both filter by the organization first, so no read through them can reach
//! another organization's rows, and both are answered from the
//! `(organization_id, <id>)` key or index every tenant table has. The SQL
//! is built only from the constant column lists and clauses below; every
//! value is a bind parameter.

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, FromRow, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{PageRequest, Result};

/// A row the reads here return.
pub(crate) trait Row: for<'row> FromRow<'row, PgRow> + Send + Unpin {}

impl<T> Row for T where T: for<'row> FromRow<'row, PgRow> + Send + Unpin {}

/// How a tenant's table is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    /// The select list.
    pub columns: &'static str,
    /// The `from` clause: the table, aliased or joined as `columns` needs.
    pub from: &'static str,
    /// The organization column, named as `from` has it.
    pub organization: &'static str,
    /// The id column (UUIDv7, so id order is creation order), named as
    /// `from` has it.
    pub id: &'static str,
}

/// The row lock a single-row read takes (inside a transaction).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lock {
    None,
    /// `for update`.
    Update,
    /// `for no key update of <alias>`: foreign-key checks on child rows
    /// (key-share locks) do not wait for it.
    NoKeyUpdateOf(&'static str),
}

impl Lock {
    /// `for update` when `lock`, else none.
    pub(crate) fn update_if(lock: bool) -> Self {
        if lock { Self::Update } else { Self::None }
    }

    fn clause(self) -> String {
        match self {
            Self::None => String::new(),
            Self::Update => " for update".to_owned(),
            Self::NoKeyUpdateOf(alias) => format!(" for no key update of {alias}"),
        }
    }
}

impl Table {
    /// The organization's row with this id, if any.
    pub(crate) async fn get<T: Row>(
        &self,
        db: impl PgExecutor<'_>,
        organization_id: Uuid,
        id: Uuid,
        lock: Lock,
    ) -> Result<Option<T>> {
        fetch_scoped(db, self.get_sql(lock), organization_id, id).await
    }

    fn get_sql(&self, lock: Lock) -> String {
        format!(
            "select {} from {} where {} = $1 and {} = $2{}",
            self.columns,
            self.from,
            self.organization,
            self.id,
            lock.clause()
        )
    }

    /// A page of the organization's rows in id order; narrow it with
    /// [`List::filter`], run it with [`List::fetch`].
    pub(crate) fn list(&self, organization_id: Uuid, page: PageRequest) -> List {
        let mut query = QueryBuilder::new(format!(
            "select {} from {} where {} = ",
            self.columns, self.from, self.organization
        ));
        query.push_bind(organization_id);
        if let Some(after) = page.after {
            query.push(format_args!(" and {} > ", self.id));
            query.push_bind(after);
        }
        List {
            query,
            id: self.id,
            limit: page.limit,
        }
    }
}

/// A page of a tenant's rows being built (see [`Table::list`]).
pub(crate) struct List {
    query: QueryBuilder<Postgres>,
    id: &'static str,
    limit: i64,
}

impl List {
    /// Keeps the rows where `condition`, a column and a comparison (e.g.
    /// `"environment_id ="`), holds with `value`; all rows when `value` is
    /// `None`.
    pub(crate) fn filter<'value, V>(mut self, condition: &'static str, value: Option<V>) -> Self
    where
        V: sqlx::Encode<'value, Postgres> + sqlx::Type<Postgres>,
    {
        if let Some(value) = value {
            self.query.push(format_args!(" and {condition} "));
            self.query.push_bind(value);
        }
        self
    }

    /// At most the page's limit of rows, in id order.
    pub(crate) async fn fetch<T: Row>(self, db: impl PgExecutor<'_>) -> Result<Vec<T>> {
        let mut query = self.ordered();
        let rows = query.build_query_as::<T>().fetch_all(db).await?;
        Ok(rows)
    }

    /// The query, ordered by id and limited to the page.
    fn ordered(mut self) -> QueryBuilder<Postgres> {
        self.query
            .push(format_args!(" order by {} limit ", self.id));
        self.query.push_bind(self.limit);
        self.query
    }
}

/// Runs `sql`, whose `$1` is the organization and `$2` an object id, and
/// returns the one row it finds, if any. Every single-object read or
/// change of a tenant's table that returns the row goes through here, so
/// none can forget the organization.
pub(crate) async fn fetch_scoped<T: Row>(
    db: impl PgExecutor<'_>,
    sql: String,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<T>> {
    let row = sqlx::query_as::<_, T>(AssertSqlSafe(sql))
        .bind(organization_id)
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPICS: Table = Table {
        columns: "t.topic_id, t.name",
        from: "topic t",
        organization: "t.organization_id",
        id: "t.topic_id",
    };

    fn page(after: Option<Uuid>) -> PageRequest {
        PageRequest { after, limit: 51 }
    }

    #[test]
    fn a_list_binds_only_the_page_start_and_filters_it_has() {
        let first = TOPICS
            .list(Uuid::nil(), page(None))
            .filter("t.cluster_id =", None::<Uuid>)
            .ordered();
        assert_eq!(
            first.sql().as_str(),
            "select t.topic_id, t.name from topic t where t.organization_id = $1 \
             order by t.topic_id limit $2"
        );
        let next = TOPICS
            .list(Uuid::nil(), page(Some(Uuid::nil())))
            .filter("t.cluster_id =", Some(Uuid::nil()))
            .filter("t.name >=", Some("a"))
            .ordered();
        assert_eq!(
            next.sql().as_str(),
            "select t.topic_id, t.name from topic t where t.organization_id = $1 \
             and t.topic_id > $2 and t.cluster_id = $3 and t.name >= $4 \
             order by t.topic_id limit $5"
        );
    }

    #[test]
    fn a_get_is_scoped_to_the_organization_and_takes_the_lock_asked_for() {
        let scoped = "select t.topic_id, t.name from topic t \
                      where t.organization_id = $1 and t.topic_id = $2";
        assert_eq!(TOPICS.get_sql(Lock::None), scoped);
        assert_eq!(TOPICS.get_sql(Lock::update_if(false)), scoped);
        assert_eq!(
            TOPICS.get_sql(Lock::update_if(true)),
            format!("{scoped} for update")
        );
        assert_eq!(
            TOPICS.get_sql(Lock::NoKeyUpdateOf("t")),
            format!("{scoped} for no key update of t")
        );
    }
}
