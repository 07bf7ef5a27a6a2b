//! What a store can be asked to do: one `Operation` per kind of call, the
//! kind and its name derived from it (strum), what an operation produces,
//! and how it runs on the store. Adding an operation starts here (see
//! ARCHITECTURE.md, "How to add an operation").

use strum::{EnumDiscriminants, IntoStaticStr};

use crate::error::Result;
use crate::options::Ttl;
use crate::store::{Entry, KeyQuery, ReadEntry, Scope, Store};
use crate::value::EncodedValue;

/// A validated call, ready to run. `ns` is the namespace ('' for the root);
/// `scope` is `None` for the whole store, or one namespace.
#[derive(Debug, Clone, PartialEq, EnumDiscriminants)]
#[strum_discriminants(
    name(OperationKind),
    doc = "What an operation is, for messages and per-kind metrics: its name is the call's.",
    derive(IntoStaticStr),
    strum(serialize_all = "camelCase")
)]
pub enum Operation {
    Set {
        ns: String,
        entry: Entry,
        ttl: Option<Ttl>,
    },
    /// `getOrSet`'s write: only if the key is still absent.
    #[strum_discriminants(strum(serialize = "getOrSet"))]
    SetIfAbsent {
        ns: String,
        entry: Entry,
        ttl: Option<Ttl>,
    },
    Get {
        ns: String,
        key: String,
    },
    Has {
        ns: String,
        key: String,
    },
    Delete {
        ns: String,
        key: String,
    },
    #[strum_discriminants(strum(serialize = "mget"))]
    MGet {
        ns: String,
        keys: Vec<String>,
    },
    #[strum_discriminants(strum(serialize = "mset"))]
    MSet {
        ns: String,
        entries: Vec<Entry>,
        ttl: Option<Ttl>,
    },
    #[strum_discriminants(strum(serialize = "mdelete"))]
    MDelete {
        ns: String,
        keys: Vec<String>,
    },
    Invalidate {
        ns: String,
        prefix: String,
    },
    Clear {
        scope: Option<String>,
    },
    PurgeExpired {
        scope: Option<String>,
    },
    Keys {
        ns: String,
        query: KeyQuery,
    },
    Count {
        scope: Option<String>,
    },
    #[strum_discriminants(strum(serialize = "getCurrentCacheSize"))]
    CacheSize {
        scope: Option<String>,
    },
}

/// What an operation produced; named by its variant (strum), for a message.
#[derive(Debug, Clone, PartialEq, IntoStaticStr)]
pub enum Output {
    Done,
    Value(Option<EncodedValue>),
    /// A get's entry, if live.
    Entry(Option<ReadEntry>),
    /// An mget's entries, in the order of its keys.
    Entries(Vec<Option<ReadEntry>>),
    Flag(bool),
    Number(u64),
    Keys(Vec<String>),
}

impl OperationKind {
    /// The name of the call, as users write it (`"mget"`, `"getOrSet"`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether the operation writes: it runs in a transaction that commits.
    pub fn writes(self) -> bool {
        use OperationKind::*;
        matches!(self, Set | SetIfAbsent | Delete | MSet | MDelete | Invalidate | Clear | PurgeExpired)
    }
}

impl Operation {
    pub fn kind(&self) -> OperationKind {
        self.into()
    }

    /// Runs the operation on the store; `expiry` turns a TTL (or none, for
    /// the default) into the absolute expiry of what it writes.
    pub(crate) fn run(
        &self,
        store: &mut Store,
        expiry: impl Fn(Option<Ttl>) -> Option<i64>,
        now_ms: i64,
    ) -> Result<Output> {
        Ok(match self {
            Operation::Set { ns, entry, ttl } => {
                store.set(ns, entry, expiry(*ttl), now_ms)?;
                Output::Done
            }
            Operation::SetIfAbsent { ns, entry, ttl } => {
                Output::Value(Some(store.insert_if_absent(ns, entry, expiry(*ttl), now_ms)?))
            }
            Operation::Get { ns, key } => Output::Entry(store.get(ns, key, now_ms)?),
            Operation::Has { ns, key } => Output::Flag(store.has(ns, key, now_ms)?),
            Operation::Delete { ns, key } => Output::Flag(store.delete(ns, key, now_ms)?),
            Operation::MGet { ns, keys } => Output::Entries(store.mget(ns, keys, now_ms)?),
            Operation::MSet { ns, entries, ttl } => {
                store.mset(ns, entries, expiry(*ttl), now_ms)?;
                Output::Done
            }
            Operation::MDelete { ns, keys } => Output::Number(store.mdelete(ns, keys, now_ms)?),
            Operation::Invalidate { ns, prefix } => Output::Number(store.invalidate(ns, prefix, now_ms)?),
            Operation::Clear { scope } => {
                store.clear(scope_of(scope))?;
                Output::Done
            }
            Operation::PurgeExpired { scope } => {
                Output::Number(store.purge_expired(scope_of(scope), now_ms)?)
            }
            Operation::Keys { ns, query } => Output::Keys(store.keys(ns, query, now_ms)?),
            Operation::Count { scope } => Output::Number(store.count(scope_of(scope), now_ms)?),
            Operation::CacheSize { scope } => Output::Number(store.total_size(scope_of(scope), now_ms)?),
        })
    }
}

fn scope_of(scope: &Option<String>) -> Scope<'_> {
    scope.as_deref().map_or(Scope::Store, Scope::Namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_as_the_calls_are() {
        let names: Vec<&str> = [
            OperationKind::Set,
            OperationKind::SetIfAbsent,
            OperationKind::MGet,
            OperationKind::MDelete,
            OperationKind::PurgeExpired,
            OperationKind::CacheSize,
        ]
        .into_iter()
        .map(OperationKind::name)
        .collect();
        assert_eq!(names, ["set", "getOrSet", "mget", "mdelete", "purgeExpired", "getCurrentCacheSize"]);
    }
}
