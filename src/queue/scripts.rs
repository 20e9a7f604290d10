//! The Lua scripts, each prefixed with the shared helpers and loaded once (EVALSHA, with the
//! redis crate reloading a script the server forgot).

use redis::Script;

const LIB: &str = include_str!("lua/lib.lua");

fn load(body: &str) -> Script {
    Script::new(&format!("{LIB}\n{body}"))
}

pub(crate) struct Scripts {
    pub enqueue: Script,
    pub enqueue_bulk: Script,
    pub fetch: Script,
    pub reap: Script,
    pub ack: Script,
    pub fail: Script,
    pub release: Script,
    pub renew: Script,
    pub requeue: Script,
    pub purge: Script,
    pub take_leases: Script,
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            enqueue: load(include_str!("lua/enqueue.lua")),
            enqueue_bulk: load(include_str!("lua/enqueue_bulk.lua")),
            fetch: load(include_str!("lua/fetch.lua")),
            reap: load(include_str!("lua/reap.lua")),
            ack: load(include_str!("lua/ack.lua")),
            fail: load(include_str!("lua/fail.lua")),
            release: load(include_str!("lua/release.lua")),
            renew: load(include_str!("lua/renew.lua")),
            requeue: load(include_str!("lua/requeue.lua")),
            purge: load(include_str!("lua/purge.lua")),
            take_leases: load(include_str!("lua/take_leases.lua")),
        }
    }
}

impl Scripts {
    pub fn all(&self) -> [&Script; 11] {
        [
            &self.enqueue,
            &self.enqueue_bulk,
            &self.fetch,
            &self.reap,
            &self.ack,
            &self.fail,
            &self.release,
            &self.renew,
            &self.requeue,
            &self.purge,
            &self.take_leases,
        ]
    }
}
