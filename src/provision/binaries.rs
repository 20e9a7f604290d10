//! Finding the installed server programs, and the account PostgreSQL runs under.
//!
//! Debian and Ubuntu install PostgreSQL's server programs in `/usr/lib/postgresql/<major>/bin`,
//! off `PATH` (several majors may sit side by side: the newest is taken); other systems put
//! `initdb` and `pg_ctl` on `PATH`. `redis-server` is on `PATH` everywhere. A program that is
//! missing is reported with the package that provides it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::ProvisionError;

/// The Debian package that provides PostgreSQL's server programs.
pub const POSTGRES_PACKAGE: &str = "postgresql";
/// The Debian package that provides `redis-server`.
pub const REDIS_PACKAGE: &str = "redis-server";

/// Where to look for the server programs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// Directories holding one `<major>/bin` per installed PostgreSQL major version.
    pub postgres_roots: Vec<PathBuf>,
    /// The search path for programs not found under `postgres_roots`, as `PATH` is written.
    pub path: OsString,
}

impl Default for Binaries {
    /// Debian's PostgreSQL directory, then the process's `PATH`.
    fn default() -> Binaries {
        Binaries {
            postgres_roots: vec![PathBuf::from("/usr/lib/postgresql")],
            path: std::env::var_os("PATH").unwrap_or_default(),
        }
    }
}

/// One installed PostgreSQL: the directory of `initdb`, `pg_ctl` and `postgres`, and its major
/// version (a data directory opens only with the major that made it).
#[derive(Debug, Clone)]
pub struct PostgresBin {
    pub dir: PathBuf,
    pub major: u32,
}

impl PostgresBin {
    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Binaries {
    /// The newest PostgreSQL under `postgres_roots`, else the one on `path`.
    pub fn postgres(&self) -> Result<PostgresBin, ProvisionError> {
        let mut found: Option<PostgresBin> = None;
        for root in &self.postgres_roots {
            let Ok(entries) = std::fs::read_dir(root) else {
                continue;
            };
            for entry in entries.flatten() {
                let Some(major) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                    continue;
                };
                let dir = entry.path().join("bin");
                let newer = found.as_ref().is_none_or(|f| major > f.major);
                if newer && has_server_programs(&dir) {
                    found = Some(PostgresBin { dir, major });
                }
            }
        }
        if let Some(bin) = found {
            return Ok(bin);
        }
        if let Some(dir) = self
            .on_path("initdb")
            .and_then(|p| p.parent().map(Path::to_owned))
        {
            if has_server_programs(&dir) {
                let major = major_of(&dir.join("pg_ctl"))?;
                return Ok(PostgresBin { dir, major });
            }
        }
        let roots: Vec<String> = self
            .postgres_roots
            .iter()
            .map(|r| format!("{}/<version>/bin", r.display()))
            .collect();
        Err(ProvisionError::Missing {
            program: "PostgreSQL's initdb and pg_ctl",
            package: POSTGRES_PACKAGE,
            looked: format!("in {} and on PATH", roots.join(", ")),
        })
    }

    /// `redis-server` on `path`.
    pub fn redis_server(&self) -> Result<PathBuf, ProvisionError> {
        self.on_path("redis-server")
            .ok_or_else(|| ProvisionError::Missing {
                program: "redis-server",
                package: REDIS_PACKAGE,
                looked: "on PATH".to_owned(),
            })
    }

    fn on_path(&self, program: &str) -> Option<PathBuf> {
        std::env::split_paths(&self.path)
            .map(|dir| dir.join(program))
            .find(|p| is_executable(p))
    }
}

fn has_server_programs(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|p| is_executable(&dir.join(p)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The major version `pg_ctl --version` reports ("pg_ctl (PostgreSQL) 15.8" is 15).
fn major_of(pg_ctl: &Path) -> Result<u32, ProvisionError> {
    let out = std::process::Command::new(pg_ctl)
        .arg("--version")
        .output()
        .map_err(|e| ProvisionError::io(format!("running {}", pg_ctl.display()), e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .last()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| ProvisionError::Failed {
            program: pg_ctl.display().to_string(),
            detail: format!("unexpected version `{}`", text.trim()),
        })
}

/// The unprivileged account PostgreSQL runs under when switchyard runs as root (PostgreSQL
/// refuses to run as root): the `postgres` system user the package creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
}

/// The account the PostgreSQL programs must run under: `None` (this process's own) unless this
/// process is root.
pub fn postgres_account() -> Result<Option<Account>, ProvisionError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| ProvisionError::io("reading /etc/passwd", e))?;
    account_in(&passwd, "postgres").map(Some).ok_or_else(|| {
        ProvisionError::Root(format!(
            "PostgreSQL refuses to run as root and there is no `postgres` user to run it as: \
             install the `{POSTGRES_PACKAGE}` package (it creates that user), or run switchyard \
             as an ordinary user"
        ))
    })
}

/// The uid and gid of `name` in an `/etc/passwd` text.
fn account_in(passwd: &str, name: &str) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 || fields[0] != name {
            return None;
        }
        Some(Account {
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
        })
    })
}

/// Whether `account` may enter `dir`: it needs search permission on every directory above, or
/// PostgreSQL cannot reach its data (a root's home is usually closed to other users).
pub fn reachable_by(account: Account, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    dir.ancestors().skip(1).all(|d| {
        let Ok(meta) = std::fs::metadata(d) else {
            return true;
        };
        let mode = meta.mode();
        if meta.uid() == account.uid {
            mode & 0o100 != 0
        } else if meta.gid() == account.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_account_is_read_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgres:x:101:104:PostgreSQL administrator:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(
            account_in(passwd, "postgres"),
            Some(Account { uid: 101, gid: 104 })
        );
        assert_eq!(account_in(passwd, "redis"), None);
    }
}
