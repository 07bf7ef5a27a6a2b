//! Conversions at the JS boundary: errors to JS objects, and JS arguments and
//! options to validated Rust values (each failure naming what is at fault).

use js_sys::{Function, JsString, Map, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::clock::{Clock, Task};
use crate::codec::{self, type_name};
use crate::engine::Engine;
use crate::error::{Result, StorageError};
use crate::js_time;
use crate::options::{
    self, BreakerOptions, Durability, RetryOptions, StoragePath, StoreOptions, Ttl, BREAKER_OPTION_NAMES,
    MAX_SAFE_INTEGER, MAX_VALUE_BYTES_CEILING, OPTION_NAMES, RETRY_OPTION_NAMES,
};
use crate::reflect;
use crate::store::{Entry, KeyQuery};

/// A JS `Error` carrying every field of the README's `StorageError`; the facade
/// re-wraps it as its `StorageError` class.
pub fn error_to_js(error: &StorageError) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("StorageError");
    let code = error.code();
    let fields: [(&str, JsValue); 6] = [
        ("code", code.as_str().into()),
        ("category", code.category().as_str().into()),
        ("retryable", code.retryable().into()),
        ("recoveryAction", code.recovery_action().as_str().into()),
        ("userMessage", error.user_message().into()),
        ("sqliteCode", error.sqlite_code().map_or(JsValue::UNDEFINED, JsValue::from)),
    ];
    for (name, value) in fields {
        // Defining a property on a fresh Error object cannot fail.
        let _ = Reflect::set(&js, &name.into(), &value);
    }
    js.into()
}

/// The `clock` option: a JS function returning milliseconds.
#[derive(Clone)]
pub struct FunctionClock(pub Function);

impl Clock for FunctionClock {
    fn now_ms(&self) -> Result<i64> {
        let value = self
            .0
            .call0(&JsValue::UNDEFINED)
            .map_err(|_| StorageError::InvalidArgument("option clock threw when called".into()))?;
        match value.as_f64() {
            Some(ms) if ms.is_finite() => Ok(ms.floor() as i64),
            _ => Err(StorageError::InvalidArgument(format!(
                "option clock must return a finite number of milliseconds, returned {}",
                type_name(&value)
            ))),
        }
    }

    /// Real time passes for timers: the option only says what time it is.
    fn wake_after(&self, delay_ms: f64, task: Task) {
        js_time::run_after(delay_ms, task);
    }
}

/// Reads a JS options object whose allowed names are `allowed`: undefined and
/// null mean "no options"; an unknown name is refused. `what` names the
/// object in messages ("option breaker", "set options").
struct OptionBag<'a> {
    object: Option<JsValue>,
    what: &'a str,
}

impl<'a> OptionBag<'a> {
    fn read(value: &JsValue, allowed: &[&str], what: &'a str) -> Result<OptionBag<'a>> {
        if value.is_undefined() || value.is_null() {
            return Ok(OptionBag { object: None, what });
        }
        if !value.is_object() || value.is_function() || !codec::is_plain_object(value).map_err(threw(what))? {
            return Err(StorageError::InvalidArgument(format!(
                "{what} must be a plain object, got {}",
                describe_kind(value)
            )));
        }
        for name in reflect::keys(value).map_err(threw(what))?.iter() {
            let name = name.as_string().unwrap_or_default();
            if !allowed.contains(&name.as_str()) {
                return Err(StorageError::InvalidArgument(format!(
                    "{what}: unknown option {name:?} (known: {})",
                    allowed.join(", ")
                )));
            }
        }
        Ok(OptionBag { object: Some(value.clone()), what })
    }

    /// The value of `name`, or `None` when absent or undefined.
    fn get(&self, name: &str) -> Result<Option<JsValue>> {
        let Some(object) = &self.object else {
            return Ok(None);
        };
        let value = reflect::get(object, name).map_err(threw(&self.label(name)))?;
        Ok((!value.is_undefined()).then_some(value))
    }

    fn label(&self, name: &str) -> String {
        format!("{} {name}", self.what)
    }

    fn number(&self, name: &str) -> Result<Option<f64>> {
        self.get(name)?
            .map(|value| {
                value.as_f64().ok_or_else(|| {
                    StorageError::InvalidArgument(format!(
                        "{} must be a number, got {}",
                        self.label(name),
                        type_name(&value)
                    ))
                })
            })
            .transpose()
    }

    fn string(&self, name: &str) -> Result<Option<String>> {
        self.get(name)?.map(|value| well_formed_string(&value, &self.label(name))).transpose()
    }

    fn ttl(&self, name: &str) -> Result<Option<Ttl>> {
        self.number(name)?.map(|ms| Ttl::parse(&self.label(name), ms)).transpose()
    }

    fn positive_integer(&self, name: &str, ceiling: f64) -> Result<Option<u64>> {
        self.number(name)?
            .map(|value| options::positive_integer(&self.label(name), value, ceiling))
            .transpose()
    }
}

fn well_formed_string(value: &JsValue, label: &str) -> Result<String> {
    match value.dyn_ref::<JsString>() {
        Some(js) if codec::is_well_formed(js) => Ok(String::from(js)),
        Some(_) => Err(StorageError::InvalidArgument(format!("{label} contains a lone surrogate"))),
        None => {
            Err(StorageError::InvalidArgument(format!("{label} must be a string, got {}", type_name(value))))
        }
    }
}

/// `openStorage` options, validated, with the clock to use.
pub fn store_options(value: &JsValue) -> Result<(StoreOptions, Option<FunctionClock>)> {
    let bag = OptionBag::read(value, &OPTION_NAMES, "option")?;
    let mut options = StoreOptions::default();
    if let Some(path) = bag.string("path")? {
        options.path = StoragePath::parse(&path)?;
    }
    options.max_size_bytes = bag.positive_integer("maxSizeBytes", MAX_SAFE_INTEGER)?;
    options.default_ttl = bag.ttl("defaultTtlMs")?;
    let ceiling = MAX_VALUE_BYTES_CEILING as f64;
    if let Some(n) = bag.positive_integer("maxBatchSize", ceiling)? {
        options.max_batch_size = n as usize;
    }
    if let Some(n) = bag.positive_integer("maxKeyBytes", ceiling)? {
        options.max_key_bytes = n as usize;
    }
    if let Some(n) = bag.positive_integer("maxValueBytes", ceiling)? {
        options.max_value_bytes = n as usize;
    }
    if let Some(n) = bag.positive_integer("maxQueueLength", ceiling)? {
        options.max_queue_length = n as usize;
    }
    if let Some(ms) = bag.number("operationTimeoutMs")? {
        options.operation_timeout_ms = options::operation_timeout(ms)?;
    }
    if let Some(durability) = bag.string("durability")? {
        options.durability = Durability::parse(&durability)?;
    }
    if let Some(breaker) = bag.get("breaker")? {
        options.breaker = breaker_options(&breaker, options.breaker)?;
    }
    if let Some(retry) = bag.get("retry")? {
        options.retry = retry_options(&retry, options.retry)?;
    }
    let clock = match bag.get("clock")? {
        None => None,
        Some(clock) => Some(FunctionClock(clock.dyn_into().map_err(|other| {
            StorageError::InvalidArgument(format!(
                "option clock must be a function returning milliseconds, got {}",
                type_name(&other)
            ))
        })?)),
    };
    if let Some(fs) = bag.get("fs")? {
        if !fs.is_object() {
            return Err(StorageError::InvalidArgument(format!(
                "option fs must be an object of node:fs functions, got {}",
                type_name(&fs)
            )));
        }
    }
    Ok((options, clock))
}

/// A nested option object (`breaker`, `retry`): an option's value, so null is
/// a wrong type here, not "no options" as for a call's options argument.
fn nested_bag<'a>(value: &JsValue, allowed: &[&str], what: &'a str) -> Result<OptionBag<'a>> {
    if value.is_null() {
        return Err(StorageError::InvalidArgument(format!("{what} must be a plain object, got null")));
    }
    OptionBag::read(value, allowed, what)
}

fn breaker_options(value: &JsValue, defaults: BreakerOptions) -> Result<BreakerOptions> {
    let bag = nested_bag(value, &BREAKER_OPTION_NAMES, "option breaker")?;
    Ok(BreakerOptions {
        failure_threshold: bag
            .positive_integer("failureThreshold", u32::MAX as f64)?
            .map_or(defaults.failure_threshold, |n| n as u32),
        recovery_timeout_ms: bag
            .number("recoveryTimeoutMs")?
            .map(|ms| options::non_negative_ms("option breaker.recoveryTimeoutMs", ms))
            .transpose()?
            .unwrap_or(defaults.recovery_timeout_ms),
    })
}

fn retry_options(value: &JsValue, defaults: RetryOptions) -> Result<RetryOptions> {
    let bag = nested_bag(value, &RETRY_OPTION_NAMES, "option retry")?;
    let delay = |name: &str, default: f64| -> Result<f64> {
        bag.number(name)?
            .map(|ms| options::non_negative_ms(&format!("option retry.{name}"), ms))
            .transpose()
            .map(|ms| ms.unwrap_or(default))
    };
    let retry = RetryOptions {
        max_attempts: bag
            .positive_integer("maxAttempts", u32::MAX as f64)?
            .map_or(defaults.max_attempts, |n| n as u32),
        base_delay_ms: delay("baseDelayMs", defaults.base_delay_ms)?,
        max_delay_ms: delay("maxDelayMs", defaults.max_delay_ms)?,
    };
    retry.check()?;
    Ok(retry)
}

/// The namespace argument: `undefined` is the root store's own ('').
pub fn namespace(value: &JsValue, options: &StoreOptions) -> Result<String> {
    if value.is_undefined() {
        return Ok(String::new());
    }
    codec::validate_key(value, options.max_key_bytes, "namespace")
}

pub fn key(value: &JsValue, options: &StoreOptions) -> Result<String> {
    codec::validate_key(value, options.max_key_bytes, "key")
}

/// `set` options: `{ ttlMs?, size? }`.
pub fn set_options(value: &JsValue) -> Result<(Option<Ttl>, Option<u64>)> {
    let bag = OptionBag::read(value, &["ttlMs", "size"], "set option")?;
    let size = bag
        .number("size")?
        .map(|size| {
            if size.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&size) {
                Ok(size as u64)
            } else {
                Err(StorageError::InvalidArgument(format!(
                    "set option size must be a non-negative integer, got {size}"
                )))
            }
        })
        .transpose()?;
    Ok((bag.ttl("ttlMs")?, size))
}

/// `mset` and `getOrSet` options: `{ ttlMs? }`; `what` names them in messages.
pub fn ttl_options(value: &JsValue, what: &str) -> Result<Option<Ttl>> {
    OptionBag::read(value, &["ttlMs"], what)?.ttl("ttlMs")
}

/// `invalidate` options: `{ prefix }`, the prefix required.
pub fn invalidate_prefix(value: &JsValue) -> Result<String> {
    OptionBag::read(value, &["prefix"], "invalidate option")?.string("prefix")?.ok_or_else(|| {
        StorageError::InvalidArgument("invalidate needs { prefix }: a string (\"\" for every key)".into())
    })
}

/// `keys` options: `{ prefix?, limit?, after? }`.
pub fn key_query(value: &JsValue) -> Result<KeyQuery> {
    let bag = OptionBag::read(value, &["prefix", "limit", "after"], "keys option")?;
    Ok(KeyQuery {
        prefix: bag.string("prefix")?.unwrap_or_default(),
        after: bag.string("after")?,
        limit: bag.positive_integer("limit", MAX_SAFE_INTEGER)?,
    })
}

pub(super) fn check_batch_size(length: usize, options: &StoreOptions) -> Result<()> {
    if length > options.max_batch_size {
        return Err(StorageError::BatchTooLarge(format!(
            "{length} entries in one batch, more than maxBatchSize ({})",
            options.max_batch_size
        )));
    }
    Ok(())
}

/// An INVALID_ARGUMENT for an argument whose reading threw (a Proxy trap, a getter).
fn threw(what: &str) -> impl FnOnce(JsValue) -> StorageError + '_ {
    move |thrown| {
        StorageError::InvalidArgument(format!(
            "{what} threw while being read: {}",
            reflect::describe_throw(&thrown)
        ))
    }
}

/// The length of an array argument (`None` if it is not an array). Callers
/// check it before reading any element: `length` costs the caller nothing to
/// set, and reading billions of holes would exhaust the wasm memory.
fn array_length(value: &JsValue, what: &str) -> Result<Option<u32>> {
    if !reflect::is_array(value).map_err(threw(what))? {
        return Ok(None);
    }
    reflect::length(value).map_err(threw(what)).map(Some)
}

/// The first `length` elements of an array.
fn array_elements(value: &JsValue, length: u32, what: &str) -> Result<Vec<JsValue>> {
    (0..length).map(|index| reflect::index(value, index).map_err(threw(what))).collect()
}

/// The keys of `mget`/`mdelete`: an array of valid keys, within the batch size.
pub fn key_list(value: &JsValue, options: &StoreOptions) -> Result<Vec<String>> {
    let length = array_length(value, "keys")?.ok_or_else(|| {
        StorageError::InvalidArgument(format!("keys must be an array of strings, got {}", type_name(value)))
    })?;
    check_batch_size(length as usize, options)?;
    array_elements(value, length, "keys")?
        .iter()
        .enumerate()
        .map(|(index, key)| codec::validate_key(key, options.max_key_bytes, &format!("keys[{index}]")))
        .collect()
}

/// The entries of `mset`: a `Map`, an array of `[key, value]` pairs or a plain
/// object; every key and value validated before anything is written.
pub fn entry_list(value: &JsValue, engine: &Engine) -> Result<Vec<Entry>> {
    let options = engine.options();
    entry_pairs(value, options)?
        .into_iter()
        .enumerate()
        .map(|(index, (key, value))| {
            let key = codec::validate_key(&key, options.max_key_bytes, &format!("entries[{index}] key"))?;
            let value = value.map_err(|thrown| {
                StorageError::InvalidValue(format!(
                    "entries[{index}] (key {key:?}): reading the value threw: {}",
                    reflect::describe_throw(&thrown)
                ))
            })?;
            let encoded = codec::encode(&value, options.max_value_bytes)
                .map_err(|error| at_entry(error, index, &key))?;
            engine.entry(key, encoded, None)
        })
        .collect()
}

/// The `[key, value]` pairs of `mset`'s argument, each value or what reading
/// it threw. Their number is checked against `maxBatchSize` before they are
/// read.
fn entry_pairs(
    value: &JsValue,
    options: &StoreOptions,
) -> Result<Vec<(JsValue, std::result::Result<JsValue, JsValue>)>> {
    if let Some(map) = value.dyn_ref::<Map>() {
        let (entries, count) = reflect::map_entries(map, options.max_batch_size).map_err(threw("entries"))?;
        check_batch_size(count, options)?;
        return Ok(entries.into_iter().map(|(key, value)| (key, Ok(value))).collect());
    }
    if let Some(length) = array_length(value, "entries")? {
        check_batch_size(length as usize, options)?;
        return array_elements(value, length, "entries")?
            .iter()
            .enumerate()
            .map(|(index, pair)| {
                let label = format!("entries[{index}]");
                match array_length(pair, &label)? {
                    Some(2) => {
                        let pair = array_elements(pair, 2, &label)?;
                        Ok((pair[0].clone(), Ok(pair[1].clone())))
                    }
                    _ => Err(StorageError::InvalidArgument(format!(
                        "{label} must be a [key, value] pair, got {}",
                        type_name(pair)
                    ))),
                }
            })
            .collect();
    }
    if value.is_object() && !value.is_function() && codec::is_plain_object(value).map_err(threw("entries"))? {
        let keys = reflect::keys(value).map_err(threw("entries"))?;
        check_batch_size(keys.length() as usize, options)?;
        return Ok(keys
            .iter()
            .map(|key| (key.clone(), reflect::get(value, &key.as_string().unwrap_or_default())))
            .collect());
    }
    Err(StorageError::InvalidArgument(format!(
        "entries must be a Map, an array of [key, value] pairs or a plain object, got {}",
        describe_kind(value)
    )))
}

/// `type_name`, naming the class of an object that is not plain.
fn describe_kind(value: &JsValue) -> String {
    if value.is_object() && !value.is_function() {
        format!("an instance of {}", codec::constructor_name(value))
    } else {
        type_name(value).into()
    }
}

/// Prefixes an error's message with the batch entry it is about.
pub(super) fn at_entry(error: StorageError, index: usize, key: &str) -> StorageError {
    let message = format!("entries[{index}] (key {key:?}): {error}");
    match error {
        StorageError::InvalidValue(_) => StorageError::InvalidValue(message),
        StorageError::ValueTooLarge(_) => StorageError::ValueTooLarge(message),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn options_error(source: &str) -> StorageError {
        let value = js_sys::eval(source).expect("test source evaluates");
        store_options(&value).err().expect(source)
    }

    #[wasm_bindgen_test]
    fn null_breaker_and_retry_are_invalid_not_defaults() {
        for name in ["breaker", "retry"] {
            let error = options_error(&format!("({{ {name}: null }})"));
            assert_eq!(error.code(), ErrorCode::InvalidArgument, "{name}");
            assert!(error.to_string().contains(&format!("option {name}")), "{error}");
        }
        let (options, _) =
            store_options(&js_sys::eval("({ breaker: undefined, retry: undefined })").unwrap())
                .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(options, StoreOptions::default());
    }

    #[wasm_bindgen_test]
    fn batch_sizes_are_checked_before_any_element_is_read() {
        let options = StoreOptions { max_batch_size: 2, ..StoreOptions::default() };
        // 2^32 - 1 holes: reading them would exhaust the wasm memory.
        let huge = "(() => { const a = []; a.length = 2 ** 32 - 1; return a; })()";
        let error = key_list(&js_sys::eval(huge).unwrap(), &options).unwrap_err();
        assert_eq!(error.code(), ErrorCode::BatchTooLarge, "{error}");
        for (source, code) in [
            (huge.to_owned(), ErrorCode::BatchTooLarge),
            (format!("[{huge}]"), ErrorCode::InvalidArgument),
            ("new Map([['a', 1], ['b', 2], ['c', 3]])".to_owned(), ErrorCode::BatchTooLarge),
            ("({ a: 1, b: 2, c: 3 })".to_owned(), ErrorCode::BatchTooLarge),
        ] {
            let error = entry_pairs(&js_sys::eval(&source).unwrap(), &options).unwrap_err();
            assert_eq!(error.code(), code, "{source}: {error}");
        }
        let pairs = entry_pairs(&js_sys::eval("new Map([['a', 1], ['b', 2]])").unwrap(), &options).unwrap();
        assert_eq!(pairs.len(), 2);
    }

    #[wasm_bindgen_test]
    fn ttl_options_name_the_call() {
        let error = ttl_options(&js_sys::eval("({ size: 1 })").unwrap(), "getOrSet option").unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidArgument);
        assert!(error.to_string().starts_with("getOrSet option: unknown option \"size\""), "{error}");
        assert_eq!(ttl_options(&JsValue::NULL, "mset option").unwrap(), None);
    }
}
