//! The store through its operations: accounting, eviction, TTL, group
//! commit, key ranges and the file's footprint.

use super::eviction::{LAZY_PURGE_LIMIT, PURGE_SOME_SQL};
use super::lru_order::ROWS_SQL;
use super::*;
use crate::error::{ErrorCode, StorageError};
use crate::footprint;
use crate::value::ValueKind;

const ALL: Scope = Scope::Store;

fn entry(key: &str, json: &str, size: u64) -> Entry {
    Entry {
        key: key.into(),
        value: EncodedValue { kind: ValueKind::Json, bytes: json.as_bytes().to_vec() },
        size,
    }
}

fn open(budget: Option<u64>) -> Store {
    let options = StoreOptions { max_size_bytes: budget, ..StoreOptions::default() };
    Store::open(Database::in_memory().unwrap(), &options).unwrap()
}

fn put(store: &mut Store, key: &str, size: u64) {
    store.set("", &entry(key, "1", size), None, 0).unwrap();
}

fn check_ledgers(store: &Store) {
    assert_eq!(store.ledgers(), &store.recount().unwrap());
}

fn live_keys(store: &mut Store) -> Vec<String> {
    store.keys("", &KeyQuery::default(), 0).unwrap()
}

#[test]
fn sizes_follow_overwrites_deletes_and_clear() {
    let mut store = open(None);
    put(&mut store, "component:react:button", 100);
    put(&mut store, "block:react:dashboard-01", 200);
    assert_eq!(store.total_size(ALL, 0).unwrap(), 300);
    assert!(store.delete("", "component:react:button", 0).unwrap());
    assert_eq!(store.total_size(ALL, 0).unwrap(), 200);
    put(&mut store, "block:react:dashboard-01", 50);
    assert_eq!((store.count(ALL, 0).unwrap(), store.total_size(ALL, 0).unwrap()), (1, 50));
    check_ledgers(&store);
    store.clear(ALL).unwrap();
    assert_eq!((store.count(ALL, 0).unwrap(), store.total_size(ALL, 0).unwrap()), (0, 0));
    check_ledgers(&store);
}

#[test]
fn a_failed_batch_changes_nothing() {
    let mut store = open(None);
    put(&mut store, "a", 10);
    // The third write of the batch fails inside the transaction.
    store
        .conn()
        .execute_batch(
            "CREATE TEMP TRIGGER refuse_c BEFORE INSERT ON entries WHEN NEW.key = 'c'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let batch = [entry("b", "2", 20), entry("a", "9", 99), entry("c", "3", 30)];
    let error = store.mset("", &batch, None, 0).unwrap_err();
    assert_eq!(error.sqlite_code(), Some(rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER));
    assert_eq!(store.get("", "a", 0).unwrap().unwrap().value.bytes, b"1");
    assert_eq!(store.get("", "b", 0).unwrap(), None);
    assert_eq!((store.count(ALL, 0).unwrap(), store.total_size(ALL, 0).unwrap()), (1, 10));
    check_ledgers(&store);
}

#[test]
fn expired_entries_are_invisible_accounted_until_removed_and_purged() {
    let mut store = open(None);
    store.set("", &entry("short", "1", 5), Some(1000), 0).unwrap();
    store.set("", &entry("long", "1", 7), None, 0).unwrap();
    assert!(store.has("", "short", 999).unwrap());
    assert_eq!(
        store.get("", "short", 999).unwrap().unwrap().expires_at,
        Some(1000),
        "a get says when it expires"
    );
    assert_eq!(store.get("", "long", 999).unwrap().unwrap().expires_at, None);
    let mut expiries = |now| -> Vec<Option<Option<i64>>> {
        let keys = ["short", "missing", "long"].map(String::from);
        store
            .mget("", &keys, now)
            .unwrap()
            .into_iter()
            .map(|entry| entry.map(|entry| entry.expires_at))
            .collect()
    };
    assert_eq!(expiries(999), [Some(Some(1000)), None, Some(None)], "an mget says when each expires");
    assert_eq!(expiries(1000), [None, None, Some(None)]);
    assert!(!store.has("", "short", 1000).unwrap());
    assert_eq!(store.get("", "short", 1000).unwrap(), None);
    assert_eq!((store.count(ALL, 1000).unwrap(), store.total_size(ALL, 1000).unwrap()), (1, 7));
    assert_eq!(store.keys("", &KeyQuery::default(), 1000).unwrap(), vec!["long"]);
    assert_eq!(store.recount().unwrap().total(), SizeLedger { rows: 2, bytes: 12 }, "still stored");
    assert_eq!(store.purge_expired(ALL, 1000).unwrap(), 1);
    assert_eq!(store.recount().unwrap().total(), SizeLedger { rows: 1, bytes: 7 });
    check_ledgers(&store);
}

#[test]
fn writes_remove_a_bounded_number_of_expired_rows() {
    let mut store = open(None);
    let batch: Vec<Entry> = (0..100).map(|i| entry(&format!("old{i:03}"), "1", 1)).collect();
    store.mset("", &batch, Some(10), 0).unwrap();
    put(&mut store, "fresh", 1);
    assert_eq!(store.recount().unwrap().total().rows, 101, "nothing expired yet");
    store.set("", &entry("later", "1", 1), None, 10).unwrap();
    assert_eq!(store.recount().unwrap().total().rows, 102 - LAZY_PURGE_LIMIT);
    check_ledgers(&store);
}

#[test]
fn eviction_removes_least_recently_used_entries_and_no_more() {
    let mut store = open(Some(100));
    for key in ["a", "b", "c", "d"] {
        put(&mut store, key, 25);
    }
    // Reading "a" makes "b" the least recently used; `has` refreshes nothing.
    assert!(store.get("", "a", 0).unwrap().is_some());
    assert!(store.has("", "b", 0).unwrap());
    put(&mut store, "e", 30);
    // 130 bytes: evicting b leaves 105, evicting c leaves 80; d stays.
    assert_eq!(live_keys(&mut store), vec!["a", "d", "e"]);
    assert_eq!(store.total_size(ALL, 0).unwrap(), 80);
    check_ledgers(&store);
}

#[test]
fn a_write_that_cannot_fit_fails_and_evicts_nothing() {
    let mut store = open(Some(100));
    put(&mut store, "a", 60);
    let batch = [entry("b", "1", 60), entry("c", "1", 60)];
    let error = store.mset("", &batch, None, 0).unwrap_err();
    assert_eq!(error.code(), ErrorCode::ValueTooLarge);
    assert_eq!(live_keys(&mut store), vec!["a"]);
    check_ledgers(&store);
}

#[test]
fn the_statements_of_every_write_are_not_prepared_again_when_bound() {
    use rusqlite::StatementStatus;
    let store = open(None);
    for sql in [PURGE_SOME_SQL, ROWS_SQL] {
        let mut statement = store.conn().prepare(sql).unwrap();
        for now_ms in [10_i64, 20, 30] {
            let mut rows = match statement.parameter_count() {
                1 => statement.query([now_ms]).unwrap(),
                _ => statement.query([now_ms, now_ms, now_ms]).unwrap(),
            };
            while rows.next().unwrap().is_some() {}
        }
        assert_eq!(statement.get_status(StatementStatus::RePrepare), 0, "{sql}");
    }
}

#[test]
fn expired_entries_stay_out_of_the_totals_after_a_rolled_back_purge() {
    let mut store = open(Some(100));
    store.mset("", &[entry("a", "1", 10), entry("b", "1", 10)], Some(10), 0).unwrap();
    put(&mut store, "kept", 10);
    // Purges "a" and "b", then cannot fit: rolled back, both come back, expired.
    let error = store.mset("", &[entry("c", "1", 60), entry("d", "1", 60)], None, 20).unwrap_err();
    assert_eq!(error.code(), ErrorCode::ValueTooLarge);
    assert_eq!(store.recount().unwrap().total().rows, 3);
    assert_eq!((store.count(ALL, 20).unwrap(), store.total_size(ALL, 20).unwrap()), (1, 10));
    assert_eq!(store.purge_expired(ALL, 20).unwrap(), 2);
    assert_eq!((store.count(ALL, 20).unwrap(), store.total_size(ALL, 20).unwrap()), (1, 10));
    check_ledgers(&store);
}

#[test]
fn a_group_commit_writes_in_order_and_a_failing_member_fails_alone() {
    let mut store = open(Some(100));
    put(&mut store, "old", 30);
    let (a, too_big, b, a_again) =
        (entry("a", "1", 40), entry("huge", "1", 101), entry("b", "2", 40), entry("a", "3", 20));
    let group: Vec<GroupedSet> = [&a, &too_big, &b, &a_again]
        .into_iter()
        .map(|entry| GroupedSet { ns: "", entry, expires_at: None })
        .collect();
    let outcomes = store.set_group(&group, 0).unwrap();
    let codes: Vec<Option<ErrorCode>> =
        outcomes.iter().map(|outcome| outcome.as_ref().err().map(StorageError::code)).collect();
    assert_eq!(codes, vec![None, Some(ErrorCode::ValueTooLarge), None, None]);
    // As if set one by one: "old" was evicted to fit "b"; the later "a" won.
    assert_eq!(live_keys(&mut store), vec!["a", "b"]);
    assert_eq!(store.get("", "a", 0).unwrap().unwrap().value.bytes, b"3");
    assert_eq!(store.total_size(ALL, 0).unwrap(), 60);
    check_ledgers(&store);
    // One commit; the first attempt, as one transaction, is not a rollback
    // the metrics count: no write of a caller was undone.
    let metrics = store.metrics();
    assert_eq!((metrics.commits.get(), metrics.rollbacks.get()), (2, 0));
}

#[test]
fn a_group_commit_whose_members_all_fit_is_one_transaction() {
    let mut store = open(Some(100));
    let (a, b) = (entry("a", "1", 40), entry("b", "2", 40));
    let group: Vec<GroupedSet> =
        [&a, &b].into_iter().map(|entry| GroupedSet { ns: "", entry, expires_at: None }).collect();
    let outcomes = store.set_group(&group, 0).unwrap();
    assert!(outcomes.iter().all(Result::is_ok));
    assert_eq!(live_keys(&mut store), vec!["a", "b"]);
    let metrics = store.metrics();
    assert_eq!((metrics.commits.get(), metrics.rollbacks.get()), (1, 0));
    check_ledgers(&store);
}

fn row_id(store: &Store, key: &str) -> i64 {
    store.conn().query_row("SELECT id FROM entries WHERE key = ?1", [key], |row| row.get(0)).unwrap()
}

#[test]
fn reads_order_eviction_before_they_are_persisted() {
    let mut store = open(Some(75));
    for key in ["a", "b", "c"] {
        put(&mut store, key, 25);
    }
    store.get("", "a", 0).unwrap();
    put(&mut store, "d", 25);
    assert_eq!(row_id(&store, "a"), 1, "neither the read nor the write moved the row");
    assert_eq!(live_keys(&mut store), vec!["a", "c", "d"], "b, not a, was the least recently used");
    store.get("", "c", 0).unwrap();
    store.mset("", &[entry("e", "1", 25), entry("f", "1", 25)], None, 0).unwrap();
    assert_eq!(live_keys(&mut store), vec!["c", "e", "f"], "a then d, in order, around the read of c");
    check_ledgers(&store);
}

#[test]
fn reads_noted_from_outside_order_eviction_as_gets_do() {
    let mut store = open(Some(75));
    for key in ["a", "b", "c"] {
        put(&mut store, key, 25);
    }
    store.note_reads([("", "a"), ("", "b")]);
    put(&mut store, "d", 25);
    assert_eq!(live_keys(&mut store), vec!["a", "b", "d"], "c, read least recently, went first");
    check_ledgers(&store);
}

#[test]
fn committed_evictions_are_named_once_in_order_and_a_rolled_back_one_is_not() {
    let mut store = open(Some(60));
    put(&mut store, "a", 20);
    store.set("v", &entry("b", "1", 20), None, 0).unwrap();
    put(&mut store, "c", 20);
    assert_eq!(store.take_evicted(), Some(vec![]));
    store.mset("", &[entry("d", "1", 20), entry("e", "1", 20)], None, 0).unwrap();
    let named =
        |pairs: &[(&str, &str)]| pairs.iter().map(|(ns, key)| (ns.to_string(), key.to_string())).collect();
    assert_eq!(store.take_evicted(), Some(named(&[("", "a"), ("v", "b")])));
    assert_eq!(store.take_evicted(), Some(vec![]), "taken once");
    // Evicts c, d and e, then cannot fit: rolled back, nothing was evicted.
    let error = store.mset("", &[entry("f", "1", 40), entry("g", "1", 40)], None, 0).unwrap_err();
    assert_eq!(error.code(), ErrorCode::ValueTooLarge);
    assert_eq!(store.take_evicted(), Some(vec![]));
    assert_eq!(live_keys(&mut store), vec!["c", "d", "e"]);
}

#[test]
fn more_evictions_than_the_list_names_say_only_that() {
    let count = eviction::EVICTED_NAMED as u64 + 1;
    let mut store = open(Some(count));
    let entries: Vec<Entry> = (0..count).map(|index| entry(&format!("k{index}"), "1", 1)).collect();
    store.mset("", &entries, None, 0).unwrap();
    store.mset("", &[entry("all", "1", count)], None, 0).unwrap();
    assert_eq!(store.take_evicted(), None);
    assert_eq!(store.take_evicted(), Some(vec![]), "and then the list starts again");
}

#[test]
fn reads_are_persisted_once_due_and_kept_after_a_failed_write() {
    let options = StoreOptions { max_size_bytes: Some(75), reads_persisted_at: 2, ..StoreOptions::default() };
    let mut store = Store::open(Database::in_memory().unwrap(), &options).unwrap();
    for key in ["a", "b", "c"] {
        put(&mut store, key, 25);
    }
    let c_id = row_id(&store, "c");
    store.get("", "a", 0).unwrap();
    store.get("", "b", 0).unwrap();
    let too_big = [entry("x", "1", 80)];
    assert!(store.mset("", &too_big, None, 0).is_err());
    assert_eq!(row_id(&store, "a"), 1, "the failed write rolled its persisting back");
    put(&mut store, "d", 25);
    assert!(row_id(&store, "a") > c_id, "the reads were kept and persisted");
    assert!(row_id(&store, "b") > row_id(&store, "a"), "in the order they were made");
    assert_eq!(live_keys(&mut store), vec!["a", "b", "d"]);
}

#[test]
fn closing_persists_every_read() {
    let path = std::env::temp_dir().join(format!("larder-core-{}-close-reads.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let options = StoreOptions { max_size_bytes: Some(75), ..StoreOptions::default() };
    let mut store = Store::open(Database::native_file(&path).unwrap(), &options).unwrap();
    for key in ["a", "b", "c"] {
        put(&mut store, key, 25);
    }
    store.get("", "a", 0).unwrap();
    store.close().unwrap();
    let mut store = Store::open(Database::native_file(&path).unwrap(), &options).unwrap();
    put(&mut store, "d", 25);
    assert_eq!(live_keys(&mut store), vec!["a", "c", "d"]);
    store.close().unwrap();
    let _ = std::fs::remove_file(&path);
}

#[test]
fn inserts_and_overwrites_in_any_order_keep_values_sizes_and_recency() {
    for budget in [None, Some(1_000)] {
        let mut store = open(budget);
        // Each step's write follows one of the other kind, or of its own.
        let steps =
            [("a", 1), ("b", 2), ("a", 3), ("a", 4), ("c", 5), ("b", 6), ("d", 7), ("e", 8), ("c", 9)];
        for (key, size) in steps {
            store.set("", &entry(key, &size.to_string(), size), None, 0).unwrap();
            assert_eq!(store.get("", key, 0).unwrap().unwrap().value.bytes, size.to_string().as_bytes());
            check_ledgers(&store);
        }
        assert_eq!(store.total_size(ALL, 0).unwrap(), 4 + 6 + 9 + 7 + 8);
        let last_written =
            |store: &Store| ["a", "b", "c", "d", "e"].into_iter().max_by_key(|key| row_id(store, key));
        // With a budget an overwrite moves its row (LRU order); without one it stays.
        assert_eq!(last_written(&store), if budget.is_some() { Some("c") } else { Some("e") });
    }
}

#[test]
fn scopes_count_clear_and_purge_one_namespace_or_all() {
    let mut store = open(None);
    store.set("", &entry("k", "1", 1), None, 0).unwrap();
    store.set("ns", &entry("k", "2", 2), None, 0).unwrap();
    store.set("ns", &entry("t", "2", 4), Some(5), 0).unwrap();
    store.set("ns2", &entry("k", "3", 8), Some(5), 0).unwrap();
    assert_eq!(store.get("ns", "k", 0).unwrap().unwrap().value.bytes, b"2");
    assert_eq!(store.total_size(Scope::Namespace("ns"), 0).unwrap(), 6);
    assert_eq!(store.total_size(Scope::Namespace("ns"), 5).unwrap(), 2);
    assert_eq!(store.total_size(ALL, 5).unwrap(), 3);
    assert_eq!(store.purge_expired(Scope::Namespace("ns"), 5).unwrap(), 1);
    assert_eq!(store.recount().unwrap().namespace("ns2").rows, 1, "another namespace is not purged");
    store.clear(Scope::Namespace("ns")).unwrap();
    assert_eq!(store.count(Scope::Namespace("ns"), 5).unwrap(), 0);
    assert_eq!(store.get("", "k", 5).unwrap().unwrap().value.bytes, b"1");
    check_ledgers(&store);
}

#[test]
fn prefixes_are_literal_ranges_for_keys_and_invalidate() {
    let mut store = open(None);
    let keys = ["a%", "a%b", "a_", "ab", "A", "a", "a\0", "a\0b", "a\\", "é", "\u{10ffff}x", "b"];
    for key in keys {
        put(&mut store, key, 1);
    }
    store.set("other", &entry("a%", "1", 1), None, 0).unwrap();
    let keys = |store: &mut Store, prefix: &str| {
        let query = KeyQuery { prefix: prefix.into(), ..KeyQuery::default() };
        store.keys("", &query, 0).unwrap()
    };
    assert_eq!(keys(&mut store, "a%"), vec!["a%", "a%b"]);
    assert_eq!(keys(&mut store, "a_"), vec!["a_"]);
    assert_eq!(keys(&mut store, "a\0"), vec!["a\0", "a\0b"]);
    assert_eq!(keys(&mut store, "A"), vec!["A"]);
    assert_eq!(keys(&mut store, "\u{10ffff}"), vec!["\u{10ffff}x"]);
    assert_eq!(keys(&mut store, "a").len(), 8);
    let all = keys(&mut store, "");
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!((all.len(), &all), (12, &sorted));
    let page = KeyQuery { prefix: "a".into(), after: Some("a%b".into()), limit: Some(2) };
    assert_eq!(store.keys("", &page, 0).unwrap(), vec!["a\\", "a_"]);

    assert_eq!(store.invalidate("", "a%", 0).unwrap(), 2);
    assert_eq!(store.invalidate("", "a", 0).unwrap(), 6);
    assert_eq!(keys(&mut store, ""), vec!["A", "b", "é", "\u{10ffff}x"]);
    assert_eq!(
        store.keys("other", &KeyQuery::default(), 0).unwrap(),
        vec!["a%"],
        "other namespace untouched"
    );
    assert_eq!(store.invalidate("", "", 0).unwrap(), 4);
    check_ledgers(&store);
}

#[test]
fn insert_if_absent_keeps_a_live_entry_and_replaces_an_expired_one() {
    let mut store = open(None);
    assert_eq!(store.insert_if_absent("", &entry("k", "1", 1), None, 0).unwrap().bytes, b"1");
    assert_eq!(store.insert_if_absent("", &entry("k", "2", 2), None, 0).unwrap().bytes, b"1", "live: kept");
    store.set("", &entry("t", "1", 1), Some(10), 0).unwrap();
    assert_eq!(
        store.insert_if_absent("", &entry("t", "2", 2), None, 10).unwrap().bytes,
        b"2",
        "expired: replaced"
    );
    assert_eq!(store.total_size(ALL, 10).unwrap(), 3);
    check_ledgers(&store);
}

/// `(free pages, all pages)` of the store's database.
fn pages(store: &Store) -> (i64, i64) {
    let pragma = |name: &str| store.conn().pragma_query_value(None, name, |row| row.get(0)).unwrap();
    (pragma("freelist_count"), pragma("page_count"))
}

/// A store on a new file in `dir`: only a file gives free pages back.
fn open_file(dir: &tempfile::TempDir) -> Store {
    let path = dir.path().join("pages.sqlite");
    Store::open(Database::native_file(&path).unwrap(), &StoreOptions::default()).unwrap()
}

/// `count` entries of about 1 KB each, keyed `{prefix}{i}`.
fn kilobytes(prefix: &str, count: usize) -> Vec<Entry> {
    let json = format!("\"{}\"", "x".repeat(1000));
    (0..count).map(|i| entry(&format!("{prefix}{i:04}"), &json, 1000)).collect()
}

#[test]
fn clear_invalidate_and_purge_give_every_free_page_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_file(&dir);
    let (_, empty) = pages(&store);
    store.mset("", &kilobytes("a", 2000), None, 0).unwrap();
    store.mset("", &kilobytes("b", 10), None, 0).unwrap();
    assert!(pages(&store).1 > empty + 200);
    assert_eq!(store.invalidate("", "a", 0).unwrap(), 2000);
    assert_eq!(pages(&store).0, 0);
    assert!(pages(&store).1 < empty + 10, "{:?}", pages(&store));

    store.mset("", &kilobytes("a", 2000), Some(10), 0).unwrap();
    assert_eq!(store.purge_expired(ALL, 10).unwrap(), 2000);
    assert_eq!(pages(&store).0, 0);
    assert!(pages(&store).1 < empty + 10);

    store.mset("", &kilobytes("a", 2000), None, 0).unwrap();
    store.clear(ALL).unwrap();
    assert_eq!(pages(&store), (0, empty));
    check_ledgers(&store);
}

#[test]
fn writes_leave_a_few_free_pages_and_trim_the_rest_in_steps() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_file(&dir);
    store.mset("", &kilobytes("k", 3000), None, 0).unwrap();
    let (mut kept_some, mut trimmed) = (false, false);
    for batch in 0..60 {
        let keys: Vec<String> = (batch * 50..(batch + 1) * 50).map(|i| format!("k{i:04}")).collect();
        let (_, before) = pages(&store);
        assert_eq!(store.mdelete("", &keys, 0).unwrap(), 50);
        let (free, total) = pages(&store);
        assert!(free <= footprint::FREE_PAGES_KEPT.max(total / 8), "batch {batch}: {free} of {total} free");
        kept_some |= free > 0;
        trimmed |= total < before;
    }
    assert!(kept_some, "a write that frees a few pages leaves them for the next inserts");
    assert!(trimmed, "free pages past the threshold were given back");
}

#[test]
fn free_pages_left_past_one_step_are_trimmed_by_the_next_write_even_an_insert() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open_file(&dir);
    store.mset("", &kilobytes("k", 6000), None, 0).unwrap();
    let keys: Vec<String> = (0..5000).map(|i| format!("k{i:04}")).collect();
    store.mdelete("", &keys, 0).unwrap();
    let (free, total) = pages(&store);
    assert!(free > footprint::FREE_PAGES_KEPT.max(total / 8), "one step left more: {free} of {total} free");
    store.set("", &entry("new", "1", 1), None, 0).unwrap();
    let (after, _) = pages(&store);
    assert!(after < free, "an insert after a step goes on trimming: {after} free, {free} before");
    for i in 0..10 {
        store.set("", &entry(&format!("more{i}"), "1", 1), None, 0).unwrap();
    }
    let (free, total) = pages(&store);
    assert!(free <= footprint::FREE_PAGES_KEPT.max(total / 8), "{free} of {total} free at the end");
    check_ledgers(&store);
}

#[test]
fn a_store_in_memory_keeps_its_free_pages_for_its_next_inserts() {
    let mut store = open(None);
    store.mset("", &kilobytes("a", 2000), None, 0).unwrap();
    let (_, full) = pages(&store);
    assert_eq!(store.invalidate("", "a", 0).unwrap(), 2000);
    let (free, total) = pages(&store);
    assert_eq!(total, full, "nothing given back");
    assert!(free > full / 2, "{free} of {total} free");
    store.mset("", &kilobytes("b", 2000), None, 0).unwrap();
    assert_eq!(pages(&store).1, full, "the inserts took the free pages");
    check_ledgers(&store);
}

#[test]
fn expired_rows_go_before_live_ones_once_the_stored_total_is_over_the_budget() {
    let mut store = open(Some(100));
    let expiring: Vec<Entry> = (0..40).map(|i| entry(&format!("e{i:02}"), "1", 2)).collect();
    store.mset("", &expiring, Some(10), 0).unwrap();
    // 40 expired rows: the write removes 32 on the side; the 8 left plus
    // 90 bytes are over the budget, so they go too, and no live entry.
    put(&mut store, "live", 5);
    store.set("", &entry("big", "1", 90), None, 10).unwrap();
    assert_eq!(store.recount().unwrap().total(), SizeLedger { rows: 2, bytes: 95 });
    assert_eq!(live_keys(&mut store), vec!["big", "live"]);
    check_ledgers(&store);
}

#[test]
fn without_a_budget_an_overwrite_stays_in_place_and_a_same_value_one_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in-place.sqlite");
    let wal_len = || std::fs::metadata(dir.path().join("in-place.sqlite-wal")).unwrap().len();
    let mut store = Store::open(Database::native_file(&path).unwrap(), &StoreOptions::default()).unwrap();
    put(&mut store, "a", 1);
    put(&mut store, "b", 1);
    let (id, before) = (row_id(&store, "a"), wal_len());
    put(&mut store, "a", 1);
    assert_eq!((row_id(&store, "a"), wal_len()), (id, before), "the same value again: no page written");
    store.set("", &entry("a", "2", 1), None, 0).unwrap();
    assert_eq!(row_id(&store, "a"), id, "a new value, in place");
    assert!(wal_len() > before);

    let mut budgeted = open(Some(1_000));
    put(&mut budgeted, "a", 1);
    put(&mut budgeted, "b", 1);
    let id = row_id(&budgeted, "a");
    put(&mut budgeted, "a", 1);
    assert!(row_id(&budgeted, "a") > row_id(&budgeted, "b"), "with a budget it moves to the newest end");
    assert_ne!(row_id(&budgeted, "a"), id);
}

#[test]
fn a_recount_refuses_what_larder_never_writes() {
    let past_2_64 = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2049)
         INSERT INTO entries (ns, key, kind, value, size) SELECT '', i, 0, x'31', 9007199254740991 FROM n";
    for damage in [
        "INSERT INTO entries (ns, key, kind, value, size) VALUES ('', 'a', 0, x'31', -1)",
        "INSERT INTO entries (ns, key, kind, value, size) VALUES ('', 'a', 0, x'31', 9007199254740992)",
        "INSERT INTO entries (ns, key, kind, value, size) VALUES (x'ff', 'a', 0, x'31', 1)",
        "INSERT INTO entries (ns, key, kind, value, size) VALUES (CAST(x'ff' AS TEXT), 'a', 0, x'31', 1)",
        past_2_64,
    ] {
        let store = open(None);
        store.conn().execute_batch(damage).unwrap();
        assert_eq!(store.recount().unwrap_err().code(), ErrorCode::Corrupt, "{damage}");
    }
}
