//! The bench's own database and the control plane under test.

use std::net::SocketAddr;
use std::process::Stdio;

use anyhow::Context;
use fjord_control_plane::{AppState, IntentSigner, app};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Pooled connections of the server under test: the production default.
const CONNECTIONS_MAX: u32 = 16;

/// How long the bench's agents long-poll.
pub(crate) const LONG_POLL: std::time::Duration = std::time::Duration::from_secs(600);

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (without_query, query) = url
        .split_once('?')
        .map_or((url, None), |(a, b)| (a, Some(b)));
    let scheme_end = without_query
        .find("://")
        .context("DATABASE_URL has no scheme")?
        + 3;
    let authority_end = without_query[scheme_end..]
        .find('/')
        .map_or(without_query.len(), |slash| scheme_end + slash);
    let mut result = format!("{}/{database}", &without_query[..authority_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    Ok(result)
}

/// A database created for one run, migrated, dropped at the end.
#[derive(Debug)]
pub(crate) struct Database {
    pub(crate) name: String,
    pub(crate) pool: PgPool,
    server: PgPool,
}

impl Database {
    pub(crate) async fn create(url: &str, name: &str) -> anyhow::Result<Self> {
        assert!(
            name.bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'),
            "a database name the bench made up, safe to splice into SQL"
        );
        let server = fjord_store::connect(url, 1).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&server)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        let pool = fjord_store::connect(&with_database(url, name)?, 2).await?;
        fjord_store::migrate(&pool).await?;
        Ok(Self {
            name: name.to_owned(),
            pool,
            server,
        })
    }

    pub(crate) async fn drop_database(self) -> anyhow::Result<()> {
        self.pool.close().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "drop database if exists {} with (force)",
            self.name
        )))
        .execute(&self.server)
        .await
        .with_context(|| format!("cannot drop database {}", self.name))?;
        Ok(())
    }
}

/// The control plane in a child process; killed on drop.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) base: String,
    _process: tokio::process::Child,
}

impl Child {
    pub(crate) async fn start(url: &str, database: &str) -> anyhow::Result<Self> {
        let mut process = Command::new(std::env::current_exe()?)
            .arg("--serve-database")
            .arg(database)
            .env("DATABASE_URL", url)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the control plane")?;
        let stdout = process.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).await?;
        let address = line
            .trim()
            .strip_prefix("listening ")
            .with_context(|| format!("the control plane did not start: {line:?}"))?;
        Ok(Self {
            base: format!("http://{address}"),
            _process: process,
        })
    }
}

/// The child: the real router, one intent listener, no job workers.
pub(crate) async fn serve(url: &str, database: &str) -> anyhow::Result<()> {
    let pool = fjord_store::connect(&with_database(url, database)?, CONNECTIONS_MAX).await?;
    let mut state = AppState::new(pool.clone(), IntentSigner::from_seed(&[7; 32]));
    // Agents wait longer than the 30 s default so that ramping up 10,000 of
    // them (which takes longer than 30 s here) does not turn into a wave of
    // re-polls just when the change is measured.
    state.agent.long_poll_max = LONG_POLL;
    let _listener = state.intents.listen(&pool).await?;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", tcp.local_addr()?);
    axum::serve(
        tcp,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_and_query_kept() -> anyhow::Result<()> {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable", "b")?,
            "postgres://u@h:5432/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "b")?, "postgres://u@h/b");
        Ok(())
    }
}
