//! Reading the caller's JS objects safely. A Proxy trap or a getter can throw
//! from inside the simplest reflective call; these bindings catch every such
//! throw and hand it back as an `Err`, so no JS exception ever unwinds through
//! wasm frames (which would skip Rust's cleanup) and the caller gets a
//! StorageError naming what could not be read.

use js_sys::{Array, Function, JsString, Map, Object, Reflect, Symbol, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    pub fn keys(object: &JsValue) -> Result<Array, JsValue>;

    #[wasm_bindgen(catch, js_namespace = Object, js_name = getOwnPropertySymbols)]
    pub fn own_symbols(object: &JsValue) -> Result<Array, JsValue>;

    #[wasm_bindgen(catch, js_namespace = Object, js_name = getPrototypeOf)]
    pub fn prototype_of(object: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    pub fn is_array(value: &JsValue) -> Result<bool, JsValue>;

    /// `Map.prototype.forEach.call(map, visit)`: the intrinsic, which a
    /// subclass cannot override.
    #[wasm_bindgen(catch, js_namespace = ["Map", "prototype", "forEach"], js_name = call)]
    fn map_for_each(map: &Map, visit: &mut dyn FnMut(JsValue, JsValue)) -> Result<(), JsValue>;
}

thread_local! {
    /// The `%TypedArray%.prototype[Symbol.toStringTag]` getter, which names
    /// the kind of a real typed array from any realm and `undefined` otherwise.
    static TYPED_ARRAY_TAG: Option<Function> = {
        let typed_array_prototype = Object::get_prototype_of(&Object::get_prototype_of(&Uint8Array::new_with_length(0)));
        let descriptor = Object::get_own_property_descriptor(&typed_array_prototype, &Symbol::to_string_tag());
        get(&descriptor, "get").ok().and_then(|getter| getter.dyn_into().ok())
    };
}

pub fn get(object: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(object, &JsValue::from_str(name))
}

pub fn index(object: &JsValue, index: u32) -> Result<JsValue, JsValue> {
    Reflect::get_u32(object, index)
}

/// `length` as an array index count (a getter or trap may lie; it is only
/// ever used as a bound).
pub fn length(object: &JsValue) -> Result<u32, JsValue> {
    Ok(get(object, "length")?.as_f64().unwrap_or(0.0) as u32)
}

/// The first `max` entries of a real `Map`, in insertion order, and how many
/// it has: a batch over the limit is refused without being copied.
pub fn map_entries(map: &Map, max: usize) -> Result<(Vec<(JsValue, JsValue)>, usize), JsValue> {
    let mut entries = Vec::new();
    let mut count = 0;
    map_for_each(map, &mut |value, key| {
        count += 1;
        if count <= max {
            entries.push((key, value));
        }
    })?;
    Ok((entries, count))
}

/// Whether `value` is a `Uint8Array` (or a subclass such as Node's `Buffer`)
/// of any realm. Cannot be fooled by `Symbol.toStringTag` on a plain object.
pub fn is_uint8_array(value: &JsValue) -> bool {
    let tag = TYPED_ARRAY_TAG.with(|getter| getter.as_ref().and_then(|getter| getter.call0(value).ok()));
    value.is_object() && tag.and_then(|tag| tag.as_string()).as_deref() == Some("Uint8Array")
}

/// A thrown value, described for a message.
pub fn describe_throw(thrown: &JsValue) -> String {
    get(thrown, "message")
        .ok()
        .and_then(|message| message.dyn_into::<JsString>().ok())
        .map(String::from)
        .unwrap_or_else(|| "a non-Error value".into())
}
