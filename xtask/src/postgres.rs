//! Postgres for development and tests.
//!
//! `DATABASE_URL` wins when set. Otherwise a throwaway cluster is created
//! with `initdb` in a temporary directory (as user `postgres` when we run as
//! root, since initdb refuses root), started with `pg_ctl` on a free port with
//! durability off (it is thrown away), and stopped and deleted on drop.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{process, step, tools};

/// A Postgres server the platform and tests can use.
#[derive(Debug)]
pub(crate) struct Postgres {
    pub(crate) url: String,
    throwaway: Option<Throwaway>,
}

#[derive(Debug)]
struct Throwaway {
    directory: PathBuf,
    bin: PathBuf,
}

impl Postgres {
    /// The server at `DATABASE_URL`, or a new throwaway one.
    pub(crate) fn ensure() -> anyhow::Result<Self> {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            step("using Postgres at DATABASE_URL");
            return Ok(Self {
                url,
                throwaway: None,
            });
        }
        let bin = postgres_bin_dir()?;
        let port = process::free_port(55432)?;
        let directory =
            std::env::temp_dir().join(format!("fjord-pg-{}-{port}", std::process::id()));
        step(&format!(
            "starting a throwaway Postgres on port {port} in {}",
            directory.display()
        ));
        std::fs::create_dir_all(&directory).context("cannot create the Postgres directory")?;
        let throwaway = Throwaway { directory, bin };
        throwaway.start(port)?;
        Ok(Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            throwaway: Some(throwaway),
        })
    }

    /// Where it lives, for people reading `cargo xtask dev` output.
    pub(crate) fn description(&self) -> &'static str {
        if self.throwaway.is_some() {
            "throwaway, deleted on exit"
        } else {
            "from DATABASE_URL"
        }
    }
}

impl Throwaway {
    fn start(&self, port: u16) -> anyhow::Result<()> {
        let data = self.directory.join("data");
        if running_as_root() {
            process::run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&self.directory),
            )?;
        }
        let mut initdb = self.command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        process::output(&mut initdb).context("initdb failed")?;
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            self.directory.display()
        );
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.directory.join("postgres.log"))
            .args(["-w", "-o", &options, "start"]);
        process::output(&mut start).with_context(|| {
            format!(
                "pg_ctl start failed; see {}",
                self.directory.join("postgres.log").display()
            )
        })?;
        Ok(())
    }

    /// `program` from the Postgres bin directory, as user `postgres` when we
    /// are root, in a process group of its own so that a terminal's Ctrl-C
    /// does not reach the server behind our back (we stop it on drop).
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command.process_group(0);
        command
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(self.directory.join("data"))
            .args(["-m", "immediate", "stop"]);
        if let Err(error) = process::output(&mut stop) {
            eprintln!("xtask: cannot stop the throwaway Postgres: {error:#}");
        }
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn running_as_root() -> bool {
    process::output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// The newest `/usr/lib/postgresql/<version>/bin`, installing Postgres if none.
fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(found) = newest_bin_dir(Path::new("/usr/lib/postgresql")) {
        return Ok(found);
    }
    tools::apt_install(&["postgresql"])?;
    match newest_bin_dir(Path::new("/usr/lib/postgresql")) {
        Some(found) => Ok(found),
        None => bail!("Postgres is not installed; install it or set DATABASE_URL"),
    }
}

fn newest_bin_dir(root: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}
