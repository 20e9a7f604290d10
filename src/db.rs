//! The PostgreSQL pool and the schema: connect with a bound on waiting, create the database on a
//! fresh install, and apply `migrations/` (embedded at compile time, so a deployed binary carries
//! its own schema).

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::migrate::MigrateError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// How long creating a missing database may take: it runs once at start, against a server that
/// should answer at once, and a hung start is worse than a failed one.
const MAINTENANCE_TIMEOUT: Duration = Duration::from_secs(15);

/// SQLSTATE for "database does not exist".
const INVALID_CATALOG_NAME: &str = "3D000";
/// SQLSTATE for "database already exists" (another process created it between our check and
/// our `CREATE`).
const DUPLICATE_DATABASE: &str = "42P04";
/// SQLSTATE raised instead of `DUPLICATE_DATABASE` when two `CREATE DATABASE` race on the
/// `pg_database` catalog's unique index.
const UNIQUE_VIOLATION: &str = "23505";

/// Opens the pool, and waits up to `connect_timeout_secs` for its first connection.
///
/// After that a query waits at most `acquire_timeout_ms` for a connection, opening one
/// included. It is the only bound sqlx puts on reaching a server that refuses or does not
/// answer, so it is what makes a request fail fast (503) while PostgreSQL is down instead of
/// hanging. A pooled connection is pinged before it is handed out, so one the server (or the
/// network) dropped is noticed there and replaced, not handed to a query.
pub async fn connect(settings: &crate::config::DatabaseSettings) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(&settings.url)?;
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .test_before_acquire(true)
        .connect_lazy_with(options);
    let deadline = Instant::now() + Duration::from_secs(settings.connect_timeout_secs);
    loop {
        match pool.acquire().await {
            Ok(_) => return Ok(pool),
            Err(sqlx::Error::PoolTimedOut) if Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
    }
}

fn db_code(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

fn timed_out(what: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("timed out {what}"),
    ))
}

/// Quotes an identifier for PostgreSQL (`CREATE DATABASE` takes no bind parameters).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the database `url` names when it does not exist yet, through the server's `postgres`
/// maintenance database. When the database is already there this only connects to it, so a
/// deployment whose role may not create databases (or reach `postgres`) still starts.
pub async fn create_database_if_missing(url: &str) -> Result<(), sqlx::Error> {
    tokio::time::timeout(MAINTENANCE_TIMEOUT, create_inner(url))
        .await
        .map_err(|_| timed_out("creating the database"))?
}

async fn create_inner(url: &str) -> Result<(), sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?;
    let name = options
        .get_database()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| sqlx::Error::Configuration("the database URL names no database".into()))?
        .to_owned();
    match PgConnection::connect_with(&options).await {
        Ok(conn) => return conn.close().await,
        Err(e) if db_code(&e).as_deref() == Some(INVALID_CATALOG_NAME) => {}
        Err(e) => return Err(e),
    }
    let mut conn = PgConnection::connect_with(&options.clone().database("postgres")).await?;
    let created = sqlx::query(&format!("CREATE DATABASE {}", quote_ident(&name)))
        .execute(&mut conn)
        .await;
    let outcome = match created {
        Ok(_) => {
            tracing::info!(database = %name, "created database");
            Ok(())
        }
        Err(e)
            if matches!(
                db_code(&e).as_deref(),
                Some(DUPLICATE_DATABASE | UNIQUE_VIOLATION)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    };
    conn.close().await?;
    outcome
}

/// Applies every migration not yet applied. sqlx holds an advisory lock meanwhile, so several
/// replicas (or tests) starting at once apply each migration exactly once.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    sqlx::migrate!("./migrations").run(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_safely() {
        assert_eq!(quote_ident("switchyard_test"), "\"switchyard_test\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("creating the database: {0}")]
    Create(sqlx::Error),
    #[error("connecting to PostgreSQL: {0}")]
    Connect(sqlx::Error),
    #[error("migrating the database: {0}")]
    Migrate(#[from] MigrateError),
}

/// Creates the database if it is missing, connects, and applies every migration: what any
/// process that owns the schema does before it starts.
pub async fn prepare(settings: &crate::config::DatabaseSettings) -> Result<PgPool, PrepareError> {
    create_database_if_missing(&settings.url)
        .await
        .map_err(PrepareError::Create)?;
    let pool = connect(settings).await.map_err(PrepareError::Connect)?;
    migrate(&pool).await?;
    Ok(pool)
}
