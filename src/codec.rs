//! Value encoding and validation: what a JS value becomes on disk, and the
//! guarantee that only values which read back exactly are ever encoded.
//!
//! A value is either JSON (stored as its UTF-8 JSON text, read back with
//! `JSON.parse`, so every read returns a fresh copy) or a top-level
//! `Uint8Array` (stored as its bytes). Keys are validated here too.

use js_sys::{JsString, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Result, StorageError};
use crate::reflect;
use crate::value::{EncodedValue, ValueKind};

/// Deepest nesting of arrays and objects a value may have.
pub const MAX_DEPTH: usize = 128;

#[wasm_bindgen]
extern "C" {
    /// A JS string, seen through the methods js-sys does not bind.
    #[wasm_bindgen(js_name = String)]
    type StringMethods;

    #[wasm_bindgen(method, js_name = isWellFormed)]
    fn is_well_formed(this: &StringMethods) -> bool;

    #[wasm_bindgen(js_namespace = Object, js_name = prototype, thread_local_v2)]
    static OBJECT_PROTOTYPE: JsValue;
}

/// False when the string holds a lone surrogate, which UTF-8 cannot carry and
/// which would not read back exactly (`String.prototype.isWellFormed`).
pub fn is_well_formed(text: &JsString) -> bool {
    text.unchecked_ref::<StringMethods>().is_well_formed()
}

/// Validates a key (or namespace name): a non-empty, well-formed string of at
/// most `max_bytes` UTF-8 bytes. `what` names it in the message.
pub fn validate_key(value: &JsValue, max_bytes: usize, what: &str) -> Result<String> {
    let Some(js) = value.dyn_ref::<JsString>() else {
        return Err(StorageError::InvalidKey(format!("{what} must be a string, got {}", type_name(value))));
    };
    check_key_units(js.length() as usize, max_bytes, &|| what.to_owned())?;
    if !is_well_formed(js) {
        return Err(StorageError::InvalidKey(format!(
            "{what} contains a lone surrogate (ill-formed UTF-16)"
        )));
    }
    let key = String::from(js);
    check_key_bytes(&key, max_bytes, &|| what.to_owned())?;
    Ok(key)
}

/// A key's checks that its UTF-16 length decides, before it is copied: not
/// empty, and (UTF-8 taking at least a byte per UTF-16 unit) not surely too long.
pub fn check_key_units(units: usize, max_bytes: usize, what: &dyn Fn() -> String) -> Result<()> {
    if units == 0 {
        return Err(StorageError::InvalidKey(format!("{} must not be empty", what())));
    }
    if units > max_bytes {
        return Err(StorageError::InvalidKey(format!(
            "{} is over {max_bytes} UTF-8 bytes ({units} UTF-16 units), more than maxKeyBytes",
            what()
        )));
    }
    Ok(())
}

/// A copied key's length in UTF-8 bytes, within `max_bytes`.
pub fn check_key_bytes(key: &str, max_bytes: usize, what: &dyn Fn() -> String) -> Result<()> {
    if key.len() > max_bytes {
        return Err(StorageError::InvalidKey(format!(
            "{} is {} UTF-8 bytes, more than maxKeyBytes ({max_bytes})",
            what(),
            key.len()
        )));
    }
    Ok(())
}

/// Encodes a value, or explains why it cannot be stored exactly.
/// `max_bytes` is `maxValueBytes`: encoding stops as soon as it is passed.
pub fn encode(value: &JsValue, max_bytes: usize) -> Result<EncodedValue> {
    if reflect::is_uint8_array(value) {
        // A view of this realm over the same bytes (Buffer and other realms
        // included), copied out.
        let bytes = Uint8Array::new(value);
        let length = bytes.length() as usize;
        if length > max_bytes {
            return Err(too_large(length, max_bytes));
        }
        return Ok(EncodedValue { kind: ValueKind::Bytes, bytes: bytes.to_vec() });
    }
    let mut encoder = JsonEncoder { out: Vec::new(), ancestors: Vec::new(), max_bytes };
    match encoder.value(value) {
        Ok(()) => Ok(EncodedValue { kind: ValueKind::Json, bytes: encoder.out }),
        Err(Refusal::TooLarge { at_least }) => Err(too_large(at_least, max_bytes)),
        Err(Refusal::Invalid { reason, path }) => {
            let mut at = String::from("value");
            for segment in path.iter().rev() {
                at.push_str(segment);
            }
            Err(StorageError::InvalidValue(format!("{at} {reason}")))
        }
    }
}

/// 2^53: every integer up to it is exactly a double, printed digit for digit.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A value the facade found plainly storable and encoded itself with
/// `JSON.stringify` (faster than encoding it here, one property at a time
/// across the wasm boundary). Its rules there are stricter than `encode`'s,
/// so the text is exactly what `encode` writes; anything else comes through
/// `encode`, which explains a refusal.
pub fn encoded_json(text: &JsString, max_bytes: usize) -> Result<EncodedValue> {
    // One UTF-8 byte at least per UTF-16 unit: refuse before copying.
    check_json_units(text.length() as usize, max_bytes)?;
    json_value(String::from(text), max_bytes)
}

/// The check of a JSON text that its UTF-16 length decides, before it is copied.
pub fn check_json_units(units: usize, max_bytes: usize) -> Result<()> {
    if units > max_bytes {
        return Err(too_large(units, max_bytes));
    }
    Ok(())
}

/// A JSON text made by the facade (see `encoded_json`), once copied.
pub fn json_value(text: String, max_bytes: usize) -> Result<EncodedValue> {
    let bytes = text.into_bytes();
    if bytes.len() > max_bytes {
        return Err(too_large(bytes.len(), max_bytes));
    }
    Ok(EncodedValue { kind: ValueKind::Json, bytes })
}

fn too_large(length: usize, max_bytes: usize) -> StorageError {
    StorageError::ValueTooLarge(format!(
        "the encoded value is {}{length} bytes, more than maxValueBytes ({max_bytes})",
        if length > max_bytes { "over " } else { "" }
    ))
}

/// Why encoding stopped. `path` is collected innermost first while unwinding;
/// `at_least` is a lower bound of the encoded length.
enum Refusal {
    Invalid { reason: String, path: Vec<String> },
    TooLarge { at_least: usize },
}

fn invalid(reason: impl Into<String>) -> Refusal {
    Refusal::Invalid { reason: reason.into(), path: Vec::new() }
}

fn at(segment: impl FnOnce() -> String) -> impl FnOnce(Refusal) -> Refusal {
    move |refusal| match refusal {
        Refusal::Invalid { reason, mut path } => {
            path.push(segment());
            Refusal::Invalid { reason, path }
        }
        too_large @ Refusal::TooLarge { .. } => too_large,
    }
}

struct JsonEncoder {
    out: Vec<u8>,
    /// The arrays and objects currently being encoded, to detect cycles.
    ancestors: Vec<JsValue>,
    max_bytes: usize,
}

impl JsonEncoder {
    fn value(&mut self, value: &JsValue) -> std::result::Result<(), Refusal> {
        if value.is_null() {
            self.out.extend_from_slice(b"null");
        } else if let Some(flag) = value.as_bool() {
            self.out.extend_from_slice(if flag { b"true" } else { b"false" });
        } else if let Some(number) = value.as_f64() {
            self.number(number)?;
        } else if let Some(text) = value.dyn_ref::<JsString>() {
            self.string(text)?;
        } else if value.is_object() {
            self.container(value)?;
        } else {
            return Err(invalid(format!("is {}, which JSON cannot store", type_name(value))));
        }
        if self.out.len() > self.max_bytes {
            return Err(Refusal::TooLarge { at_least: self.out.len() });
        }
        Ok(())
    }

    /// Refuses a string that cannot fit before copying it out of JS: its JSON
    /// form takes at least one byte per UTF-16 unit plus `extra`, and copying a
    /// huge one would grow the wasm memory for good.
    fn check_room(&self, text: &JsString, extra: usize) -> std::result::Result<(), Refusal> {
        let at_least = self.out.len() + text.length() as usize + extra;
        if at_least > self.max_bytes {
            return Err(Refusal::TooLarge { at_least });
        }
        Ok(())
    }

    fn number(&mut self, number: f64) -> std::result::Result<(), Refusal> {
        if !number.is_finite() {
            let shown = if number.is_nan() {
                "NaN"
            } else if number > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            return Err(invalid(format!("is {shown}, which JSON cannot store")));
        }
        if number == 0.0 {
            // -0 is normalised to 0, the one documented change.
            self.out.push(b'0');
        } else if number.fract() == 0.0 && number.abs() <= MAX_SAFE_INTEGER {
            // A safe integer: its digits are what JSON.stringify writes.
            self.out.extend_from_slice((number as i64).to_string().as_bytes());
        } else {
            // JS's own shortest round-trip text, as JSON.stringify writes it.
            let text = js_sys::Number::from(number).to_string_with_radix(10).expect("radix 10 is valid");
            self.out.extend_from_slice(String::from(text).as_bytes());
        }
        Ok(())
    }

    fn string(&mut self, text: &JsString) -> std::result::Result<(), Refusal> {
        if !is_well_formed(text) {
            return Err(invalid("is a string with a lone surrogate (ill-formed UTF-16)"));
        }
        self.check_room(text, 2)?;
        let text = String::from(text);
        serde_json::to_writer(&mut self.out, &text).expect("strings serialise");
        Ok(())
    }

    fn container(&mut self, value: &JsValue) -> std::result::Result<(), Refusal> {
        if self.ancestors.iter().any(|ancestor| ancestor == value) {
            return Err(invalid("refers back to itself (a cycle)"));
        }
        if self.ancestors.len() == MAX_DEPTH {
            return Err(invalid(format!("nests arrays/objects deeper than {MAX_DEPTH} levels")));
        }
        self.ancestors.push(value.clone());
        let result =
            if reflect::is_array(value).map_err(threw)? { self.array(value) } else { self.object(value) };
        self.ancestors.pop();
        result
    }

    fn array(&mut self, array: &JsValue) -> std::result::Result<(), Refusal> {
        let length = reflect::length(array).map_err(threw)?;
        if reflect::keys(array).map_err(threw)?.length() != length {
            return Err(invalid("is an array with holes or extra properties"));
        }
        self.out.push(b'[');
        for index in 0..length {
            if index > 0 {
                self.out.push(b',');
            }
            let element = reflect::index(array, index).map_err(threw)?;
            self.value(&element).map_err(at(|| format!("[{index}]")))?;
        }
        self.out.push(b']');
        Ok(())
    }

    fn object(&mut self, object: &JsValue) -> std::result::Result<(), Refusal> {
        if reflect::is_uint8_array(object) {
            return Err(invalid("is a Uint8Array, which is storable only as the whole value"));
        }
        if !is_plain_object(object).map_err(threw)? {
            return Err(invalid(format!(
                "is an instance of {}, not a plain object",
                constructor_name(object)
            )));
        }
        if reflect::own_symbols(object).map_err(threw)?.length() > 0 {
            return Err(invalid("has symbol-keyed properties, which JSON cannot store"));
        }
        self.out.push(b'{');
        for (index, key) in reflect::keys(object).map_err(threw)?.iter().enumerate() {
            let key: JsString = key.unchecked_into();
            // Its quotes and the colon.
            self.check_room(&key, 3)?;
            let name = String::from(&key);
            if !is_well_formed(&key) {
                return Err(invalid(format!("has a property name with a lone surrogate ({name:?})")));
            }
            let member = reflect::get(object, &name).map_err(|thrown| {
                invalid(format!(
                    "threw while its property {name:?} was read: {}",
                    reflect::describe_throw(&thrown)
                ))
            })?;
            if index > 0 {
                self.out.push(b',');
            }
            serde_json::to_writer(&mut self.out, &name).expect("strings serialise");
            self.out.push(b':');
            self.value(&member).map_err(at(|| format!("[{name:?}]")))?;
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// A refusal for a value whose reading threw (a Proxy trap, a getter).
fn threw(thrown: JsValue) -> Refusal {
    invalid(format!("threw while being read: {}", reflect::describe_throw(&thrown)))
}

/// A plain object: `{}` or `Object.create(null)`, from this realm or another.
pub fn is_plain_object(object: &JsValue) -> std::result::Result<bool, JsValue> {
    let prototype = reflect::prototype_of(object)?;
    if prototype.is_null() || OBJECT_PROTOTYPE.with(|p| *p == prototype) {
        return Ok(true);
    }
    // Object.prototype of another realm (a vm context, an iframe).
    Ok(reflect::prototype_of(&prototype)?.is_null() && constructor_name(object) == "Object")
}

pub fn constructor_name(object: &JsValue) -> String {
    reflect::get(object, "constructor")
        .and_then(|constructor| reflect::get(&constructor, "name"))
        .ok()
        .and_then(|name| name.as_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "an anonymous class".into())
}

/// What kind of value this is, for messages ("a function", "null").
pub fn type_name(value: &JsValue) -> &'static str {
    if value.is_null() {
        return "null";
    }
    // The catching binding: `Array.isArray` throws on a revoked Proxy.
    if reflect::is_array(value).unwrap_or(false) {
        return "an array";
    }
    match value.js_typeof().as_string().as_deref() {
        Some("undefined") => "undefined",
        Some("boolean") => "a boolean",
        Some("number") => "a number",
        Some("string") => "a string",
        Some("bigint") => "a BigInt",
        Some("symbol") => "a symbol",
        Some("function") => "a function",
        _ => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use js_sys::Object;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn eval(source: &str) -> JsValue {
        js_sys::eval(source).expect("test source evaluates")
    }

    fn json_of(source: &str) -> String {
        let encoded = encode(&eval(source), 1 << 20).expect("encodes");
        assert_eq!(encoded.kind, ValueKind::Json);
        String::from_utf8(encoded.bytes).unwrap()
    }

    /// A JSON value read back as the facade reads it.
    fn parsed(encoded: &EncodedValue) -> JsValue {
        let text = crate::stored::stored_form(encoded).unwrap().as_string().expect("JSON crosses as text");
        js_sys::JSON::parse(&text).unwrap()
    }

    fn refusal(source: &str) -> StorageError {
        encode(&eval(source), 1 << 20).expect_err(source)
    }

    #[wasm_bindgen_test]
    fn json_values_encode_compactly() {
        assert_eq!(json_of("(null)"), "null");
        assert_eq!(json_of("(true)"), "true");
        assert_eq!(json_of("(-0)"), "0");
        assert_eq!(json_of("(42)"), "42");
        assert_eq!(json_of("(-7)"), "-7");
        assert_eq!(json_of("(0.1)"), "0.1");
        assert_eq!(json_of("('a\"\\n')"), r#""a\"\n""#);
        assert_eq!(json_of("({b: [1, 'x', {c: null}], a: {}})"), r#"{"b":[1,"x",{"c":null}],"a":{}}"#);
        assert_eq!(json_of("Object.create(null)"), "{}");
    }

    #[wasm_bindgen_test]
    fn numbers_round_trip_through_json_parse() {
        for source in [
            "1e21",
            "1.7976931348623157e308",
            "5e-324",
            "-123456789012345680000",
            "0.30000000000000004",
            "9007199254740993",
        ] {
            let original = eval(source).as_f64().unwrap();
            let encoded = encode(&JsValue::from_f64(original), 100).unwrap();
            let back = parsed(&encoded).as_f64().unwrap();
            assert_eq!(back.to_bits(), original.to_bits(), "{source}");
        }
    }

    #[wasm_bindgen_test]
    fn numbers_are_written_as_json_stringify_writes_them() {
        for source in
            ["9007199254740992", "-9007199254740992", "9007199254740994", "123456789012345680000", "1e20"]
        {
            let stringified = js_sys::JSON::stringify(&eval(source)).unwrap().as_string().unwrap();
            assert_eq!(json_of(&format!("({source})")), stringified, "{source}");
        }
    }

    #[wasm_bindgen_test]
    fn unstorable_values_are_refused_with_their_path() {
        let cases = [
            ("(undefined)", "value is undefined"),
            ("(() => 1)", "value is a function"),
            ("Symbol('s')", "value is a symbol"),
            ("10n", "value is a BigInt"),
            ("NaN", "value is NaN"),
            ("(-Infinity)", "value is -Infinity"),
            ("({a: [1, undefined]})", "value[\"a\"][1] is undefined"),
            ("[1, , 3]", "value is an array with holes"),
            ("new Date(0)", "value is an instance of Date"),
            ("new Map()", "value is an instance of Map"),
            ("new Set()", "value is an instance of Set"),
            ("new (class Point {})()", "value is an instance of Point"),
            ("({x: new Uint8Array(1)})", "value[\"x\"] is a Uint8Array"),
            ("'\\uD800'", "value is a string with a lone surrogate"),
            ("({['\\uDC00']: 1})", "value has a property name with a lone surrogate"),
            ("({[Symbol('k')]: 1})", "value has symbol-keyed properties"),
            ("(() => { const a = {}; a.self = a; return a; })()", "value[\"self\"] refers back to itself"),
            ("new Int8Array(2)", "value is an instance of Int8Array"),
            ("({get boom() { throw new Error('no'); }})", "value threw while its property \"boom\" was read"),
        ];
        for (source, start) in cases {
            let error = refusal(source);
            assert_eq!(error.code(), ErrorCode::InvalidValue, "{source}");
            assert!(error.to_string().starts_with(start), "{source}: {error}");
        }
    }

    #[wasm_bindgen_test]
    fn depth_limit_is_128_levels() {
        let nest = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        assert!(encode(&eval(&nest(MAX_DEPTH)), 1 << 20).is_ok());
        let error = refusal(&nest(MAX_DEPTH + 1));
        assert_eq!(error.code(), ErrorCode::InvalidValue);
        assert!(error.to_string().contains("deeper than 128"), "{error}");
    }

    #[wasm_bindgen_test]
    fn size_limit_applies_to_encoded_bytes() {
        assert!(encode(&eval("'abc'"), 5).is_ok()); // "abc" with quotes is 5 bytes
        assert_eq!(encode(&eval("'abcd'"), 5).unwrap_err().code(), ErrorCode::ValueTooLarge);
        assert_eq!(encode(&eval("new Uint8Array(6)"), 5).unwrap_err().code(), ErrorCode::ValueTooLarge);
        // Refused before the string is copied out of JS, with a true lower
        // bound: `["ab",` then the string and its quotes.
        let error = encode(&eval("['ab', 'x'.repeat(2 ** 26)]"), 5).unwrap_err();
        assert!(error.to_string().contains(&format!("over {} bytes", 6 + (1 << 26) + 2)), "{error}");
        let error = encode(&eval("({ ['x'.repeat(2 ** 26)]: 1 })"), 5).unwrap_err();
        assert_eq!(error.code(), ErrorCode::ValueTooLarge);
        let bytes = encode(&eval("new Uint8Array([1, 2, 255])"), 5).unwrap();
        assert_eq!(bytes, EncodedValue { kind: ValueKind::Bytes, bytes: vec![1, 2, 255] });
    }

    #[wasm_bindgen_test]
    fn decoding_gives_fresh_copies_and_own_proto_keys() {
        let encoded =
            encode(&eval("JSON.parse('{\"__proto__\": {\"polluted\": 1}, \"constructor\": 2}')"), 100)
                .unwrap();
        let first = parsed(&encoded);
        let second = parsed(&encoded);
        assert!(first != second);
        let own = Object::get_own_property_names(first.unchecked_ref::<Object>());
        assert_eq!(own.length(), 2);
        assert!(eval("({}).polluted === undefined").as_bool().unwrap());
    }

    #[wasm_bindgen_test]
    fn keys_are_validated() {
        assert_eq!(validate_key(&eval("'k'"), 4, "key").unwrap(), "k");
        assert_eq!(validate_key(&eval("'a\\u0000b'"), 4, "key").unwrap(), "a\0b");
        assert_eq!(validate_key(&eval("'é'"), 2, "key").unwrap(), "é");
        let huge = validate_key(&eval("'k'.repeat(2 ** 26)"), 4, "key").unwrap_err();
        assert!(huge.to_string().contains("more than maxKeyBytes"), "{huge}");
        for source in ["''", "1", "null", "undefined", "'\\uD83D'", "'ééé'", "({})", "Symbol()"] {
            let error = validate_key(&eval(source), 4, "key").unwrap_err();
            assert_eq!(error.code(), ErrorCode::InvalidKey, "{source}");
        }
    }

    #[wasm_bindgen_test]
    fn a_revoked_proxy_is_named_without_throwing() {
        let revoked = eval("(() => { const p = Proxy.revocable([], {}); p.revoke(); return p.proxy; })()");
        assert_eq!(type_name(&revoked), "an object");
        let error = validate_key(&revoked, 4, "key").unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidKey);
    }
}
