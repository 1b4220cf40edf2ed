/// Errors of the inventory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// True when a unique constraint refused the write (the row exists).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Database(error) => error
                .as_database_error()
                .is_some_and(|error| error.is_unique_violation()),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
