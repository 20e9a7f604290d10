//! Settings as the program uses them: read and checked field by field in `config` (plain data,
//! at the bottom), then checked by each layer that reads a section for what only it can judge:
//! the outbound allow-list parses as CIDR ranges, the credentials key opens, periodic jobs fit
//! their queues, per-queue tables name queues. `main` loads through here, so a bad value stops
//! the process at start, naming its key.

use std::path::Path;

use crate::config::{config_dir, invalid, ConfigError, Settings};
use crate::crypto::CredentialsKey;
use crate::outbound::SsrfGuard;
use crate::queue::QueueName;

/// Loads the settings of `SWITCHYARD_ENV` from the config directory and checks them.
pub fn load() -> Result<Settings, ConfigError> {
    let env = std::env::var("SWITCHYARD_ENV").unwrap_or_else(|_| "development".to_owned());
    load_env(&config_dir(), &env)
}

/// Loads the settings of `env` from `dir` and checks them.
pub fn load_env(dir: &Path, env: &str) -> Result<Settings, ConfigError> {
    let settings = Settings::load_env(dir, env)?;
    check(&settings)?;
    Ok(settings)
}

/// The checks of the layers that read the settings.
pub fn check(settings: &Settings) -> Result<(), ConfigError> {
    SsrfGuard::new(&settings.outbound.allow_cidrs)
        .map_err(|e| invalid("outbound.allow_cidrs", e.to_string()))?;
    CredentialsKey::from_hex(&settings.crypto.credentials_key)
        .map_err(|e| invalid("crypto.credentials_key", e.to_string()))?;
    for (i, p) in settings.timers.periodic.iter().enumerate() {
        crate::jobs::validate_payload(&p.queue, &p.payload)
            .map_err(|e| invalid(format!("timers.periodic[{i}]"), e.to_string()))?;
    }
    for name in settings.queues.keys() {
        if !QueueName::is_valid(&name.replace('_', "-")) {
            return Err(invalid(format!("queues.{name}"), "not a valid queue name"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The shipped default.toml with `extra` as the development environment's file.
    fn with_env_file(extra: &str) -> Result<Settings, ConfigError> {
        let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let tmp = std::env::temp_dir().join(format!("switchyard-settings-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::copy(shipped.join("default.toml"), tmp.join("default.toml")).unwrap();
        std::fs::write(tmp.join("development.toml"), extra).unwrap();
        let loaded = load_env(&tmp, "development");
        std::fs::remove_dir_all(&tmp).ok();
        loaded
    }

    fn key_of(err: ConfigError) -> String {
        match err {
            ConfigError::Invalid { key, .. } => key,
            other => other.to_string(),
        }
    }

    #[test]
    fn the_layers_refuse_what_they_cannot_use_naming_its_key() {
        let err = with_env_file("[crypto]\ncredentials_key = \"abcd\"\n").unwrap_err();
        assert_eq!(key_of(err), "crypto.credentials_key");
        let err = with_env_file("[outbound]\nallow_cidrs = [\"10.0.0.0/33\"]\n").unwrap_err();
        assert_eq!(key_of(err), "outbound.allow_cidrs");
        let err = with_env_file("[queues.\"a:b\"]\nconcurrency = 2\n").unwrap_err();
        assert_eq!(key_of(err), "queues.a:b");
    }

    #[test]
    fn a_periodic_job_must_fit_its_queue() {
        let bad = "[[timers.periodic]]\nname = \"t\"\nqueue = \"sync-stock\"\nevery_secs = 5\n";
        let err = with_env_file(bad).unwrap_err();
        assert_eq!(key_of(err), "timers.periodic[0]");
        let good = "[[timers.periodic]]\nname = \"t\"\nqueue = \"sync-stock\"\nevery_secs = 5\npayload = { channel_id = 3 }\n";
        assert_eq!(
            with_env_file(good).unwrap().timers.periodic[0].every_secs,
            5
        );
    }
}
