//! KQL's `dynamic` values (property bags, arrays of mixed types) as JSON text.
//!
//! A dynamic value travels as its compact JSON text in a `LargeUtf8` column (nethunt-kql plans
//! `dynamic({...})`, `parse_json`, and `dynamic` columns so); these functions read it:
//! `kql_parse_json(text)`, `kql_dyn_get(d, key_or_index)`, `kql_dyn_tostring(d)`,
//! `kql_dyn_length(d)`, `kql_dyn_expand(d)`, and the bag functions `kql_bag_keys(d)`,
//! `kql_bag_has_key(d, key)`, `kql_bag_merge(d, ...)`, `kql_bag_remove_keys(d, keys)`,
//! `kql_bag_pack(key, value, ...)` and `kql_to_dynamic(x)` (any value as dynamic JSON). A NULL
//! or a JSON `null` is NULL throughout.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Builder, LargeStringBuilder, ListBuilder, StringBuilder,
};
use arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use serde_json::Value;

use crate::DOC_SECTION;

/// Parse a dynamic value's text; `None` for NULL, a JSON `null`, or text that is not JSON.
pub fn parse(text: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Null) | Err(_) => None,
        Ok(v) => Some(v),
    }
}

/// KQL `parse_json(text)`: the JSON value `text` holds, compact; text that is not JSON is a
/// JSON string of itself (as Kusto keeps it a string).
pub fn parse_json(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => v.to_string(),
        Err(_) => Value::String(text.to_string()).to_string(),
    }
}

/// The member `key` of a bag, or the element `index` of an array (negative from the end).
pub fn get<'a>(v: &'a Value, key: &Key) -> Option<&'a Value> {
    match (v, key) {
        (Value::Object(m), Key::Name(k)) => m.get(k),
        (Value::Array(a), Key::Index(i)) => {
            let i = if *i < 0 { a.len() as i64 + i } else { *i };
            usize::try_from(i).ok().and_then(|i| a.get(i))
        }
        _ => None,
    }
    .filter(|v| !v.is_null())
}

/// KQL `tostring(d)`: a string's own text, anything else its compact JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What `mv-expand` makes of a dynamic value: an array's elements, a bag's members as
/// one-member bags, anything else itself.
pub fn expand(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| {
                let mut one = serde_json::Map::new();
                one.insert(k.clone(), x.clone());
                Value::Object(one)
            })
            .collect(),
        other => vec![other.clone()],
    }
}

/// A member name or an array index.
pub enum Key {
    Name(String),
    Index(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    ParseJson,
    Get,
    ToText,
    Length,
    Expand,
    BagKeys,
    BagHasKey,
    BagMerge,
    BagRemoveKeys,
    BagPack,
    ToDynamic,
}

/// A member path: `name`, or `$.a.b` / `$['a']` for a nested member.
fn path(key: &str) -> Vec<String> {
    match key.strip_prefix('$') {
        None => vec![key.to_string()],
        Some(rest) => rest
            .split(['.', '[', ']'])
            .map(|p| p.trim_matches(|c| c == '\'' || c == '"'))
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// Whether a bag has the member at `key` (a name or a `$.` path).
pub fn has_key(v: &Value, key: &str) -> bool {
    let mut at = v;
    for p in path(key) {
        match at.get(&p) {
            Some(x) => at = x,
            None => return false,
        }
    }
    true
}

/// A bag without the members at `keys` (names or `$.` paths).
pub fn remove_keys(v: &Value, keys: &[String]) -> Value {
    let mut out = v.clone();
    for k in keys {
        let p = path(k);
        let Some((last, parents)) = p.split_last() else {
            continue;
        };
        let mut at = Some(&mut out);
        for q in parents {
            at = at.and_then(|x| x.get_mut(q));
        }
        if let Some(Value::Object(m)) = at {
            m.remove(last);
        }
    }
    out
}

/// Bags merged; where two have a key, the first one's value stays (Kusto's bag_merge).
pub fn merge(bags: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    for b in bags {
        if let Value::Object(m) = b {
            for (k, v) in m {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Value::Object(out)
}

/// One value of any Arrow type as dynamic JSON: text as a string, a dynamic (LargeUtf8) value
/// as what it holds, a list as an array, a datetime as Kusto writes it.
pub fn to_json(v: &ScalarValue) -> Value {
    use ScalarValue as S;
    if v.is_null() {
        return Value::Null;
    }
    match v {
        S::Utf8(Some(s)) | S::Utf8View(Some(s)) => Value::String(s.clone()),
        S::LargeUtf8(Some(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        S::Boolean(Some(b)) => Value::Bool(*b),
        S::Int8(Some(i)) => Value::from(*i),
        S::Int16(Some(i)) => Value::from(*i),
        S::Int32(Some(i)) => Value::from(*i),
        S::Int64(Some(i)) => Value::from(*i),
        S::UInt8(Some(i)) => Value::from(*i),
        S::UInt16(Some(i)) => Value::from(*i),
        S::UInt32(Some(i)) => Value::from(*i),
        S::UInt64(Some(i)) => Value::from(*i),
        S::Float32(Some(f)) => {
            serde_json::Number::from_f64(*f as f64).map_or(Value::Null, Value::Number)
        }
        S::Float64(Some(f)) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        S::List(l) => {
            let a = l.value(0);
            Value::Array(
                (0..a.len())
                    .map(|i| {
                        ScalarValue::try_from_array(&a, i).map_or(Value::Null, |x| to_json(&x))
                    })
                    .collect(),
            )
        }
        other => match other.cast_to(&DataType::Timestamp(
            arrow::datatypes::TimeUnit::Microsecond,
            Some("UTC".into()),
        )) {
            // Kusto's text of a datetime: seven fraction digits
            Ok(S::TimestampMicrosecond(Some(us), _)) => {
                match arrow::temporal_conversions::timestamp_us_to_datetime(us) {
                    Some(d) => Value::String(format!(
                        "{}.{:07}Z",
                        d.format("%Y-%m-%dT%H:%M:%S"),
                        us.rem_euclid(1_000_000) * 10
                    )),
                    None => Value::String(other.to_string()),
                }
            }
            _ => Value::String(other.to_string()),
        },
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DynUdf {
    op: Op,
    signature: Signature,
}

const OPS: [Op; 11] = [
    Op::ParseJson,
    Op::Get,
    Op::ToText,
    Op::Length,
    Op::Expand,
    Op::BagKeys,
    Op::BagHasKey,
    Op::BagMerge,
    Op::BagRemoveKeys,
    Op::BagPack,
    Op::ToDynamic,
];

static DOCS: LazyLock<Vec<Documentation>> = LazyLock::new(|| {
    let d = |text: &str, syntax: &str| Documentation::builder(DOC_SECTION, text, syntax).build();
    vec![
        d(
            "KQL's parse_json / todynamic: the JSON value the text holds, as compact JSON text (a \
             LargeUtf8 dynamic value); text that is not JSON becomes a JSON string.",
            "kql_parse_json(text)",
        ),
        d(
            "A member of a dynamic bag (d.name, d['name']) or an element of a dynamic array \
             (d[i], negative from the end), as dynamic JSON text; NULL when absent.",
            "kql_dyn_get(d, name_or_index)",
        ),
        d(
            "KQL's tostring of a dynamic value: a string's own text, else its compact JSON.",
            "kql_dyn_tostring(d)",
        ),
        d(
            "KQL's array_length of a dynamic value: the length of an array, NULL otherwise.",
            "kql_dyn_length(d)",
        ),
        d(
            "What mv-expand makes of a dynamic value: an array's elements, a bag's members as \
             one-member bags, anything else itself (a list of dynamic JSON texts).",
            "kql_dyn_expand(d)",
        ),
        d(
            "KQL's bag_keys: the keys of a dynamic bag (in key order); NULL for anything else.",
            "kql_bag_keys(d)",
        ),
        d(
            "KQL's bag_has_key: whether a dynamic bag has the key (a name, or a $.a.b path).",
            "kql_bag_has_key(d, key)",
        ),
        d(
            "KQL's bag_merge: the bags' members in one bag; where two have a key, the first \
             one's value stays.",
            "kql_bag_merge(d1, d2 [, ...])",
        ),
        d(
            "KQL's bag_remove_keys: the bag without the keys (names or $.a.b paths) of a dynamic \
             array.",
            "kql_bag_remove_keys(d, keys)",
        ),
        d(
            "KQL's bag_pack / pack: a dynamic bag of the keys and values given in turn; any \
             value's type (text, numbers, datetimes, lists, dynamic values).",
            "kql_bag_pack(key1, value1 [, ...])",
        ),
        d(
            "Any value as a dynamic (JSON) value: text as a string, a list as an array, a \
             dynamic value as it is.",
            "kql_to_dynamic(x)",
        ),
    ]
});

impl DynUdf {
    fn name_of(op: Op) -> &'static str {
        match op {
            Op::ParseJson => "kql_parse_json",
            Op::Get => "kql_dyn_get",
            Op::ToText => "kql_dyn_tostring",
            Op::Length => "kql_dyn_length",
            Op::Expand => "kql_dyn_expand",
            Op::BagKeys => "kql_bag_keys",
            Op::BagHasKey => "kql_bag_has_key",
            Op::BagMerge => "kql_bag_merge",
            Op::BagRemoveKeys => "kql_bag_remove_keys",
            Op::BagPack => "kql_bag_pack",
            Op::ToDynamic => "kql_to_dynamic",
        }
    }
}

fn dyn_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::LargeUtf8, true)))
}

fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

/// Row `i` of `a` as dynamic JSON (`None` for NULL).
fn json_at(a: &ArrayRef, i: usize) -> Result<Option<Value>> {
    if a.is_null(i) {
        return Ok(None);
    }
    Ok(Some(to_json(&ScalarValue::try_from_array(a, i)?)).filter(|v| !v.is_null()))
}

/// Row `i` of a LargeUtf8 dynamic column, parsed.
fn dyn_at(d: &arrow::array::LargeStringArray, i: usize) -> Option<Value> {
    if d.is_null(i) {
        None
    } else {
        parse(d.value(i))
    }
}

impl ScalarUDFImpl for DynUdf {
    fn name(&self) -> &str {
        Self::name_of(self.op)
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.op {
            Op::ParseJson
            | Op::Get
            | Op::BagMerge
            | Op::BagRemoveKeys
            | Op::BagPack
            | Op::ToDynamic => DataType::LargeUtf8,
            Op::ToText => DataType::Utf8,
            Op::Length => DataType::Int64,
            Op::Expand => dyn_list(),
            Op::BagKeys => DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            Op::BagHasKey => DataType::Boolean,
        })
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        match (self.op, arg_types) {
            // any value, as it is
            (Op::ToDynamic, [x]) => Ok(vec![x.clone()]),
            (Op::BagPack, args) if args.len().is_multiple_of(2) => Ok(args
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    if i % 2 == 0 {
                        DataType::Utf8
                    } else {
                        t.clone()
                    }
                })
                .collect()),
            (Op::BagPack, _) => plan_err!("{name} takes keys and values in pairs"),
            (Op::Get, [d, k]) if is_text(d) => {
                if is_text(k) {
                    Ok(vec![DataType::LargeUtf8, DataType::Utf8])
                } else if k.is_integer() {
                    Ok(vec![DataType::LargeUtf8, DataType::Int64])
                } else {
                    plan_err!("{name}: the key must be a name or an integer index, got {k}")
                }
            }
            (Op::Get, _) => plan_err!("{name} takes a dynamic value and a name or index"),
            (Op::BagHasKey, [d, k]) if is_text(d) && is_text(k) => {
                Ok(vec![DataType::LargeUtf8, DataType::Utf8])
            }
            (Op::BagRemoveKeys, [d, k]) if is_text(d) && is_text(k) => {
                Ok(vec![DataType::LargeUtf8, DataType::LargeUtf8])
            }
            (Op::BagHasKey | Op::BagRemoveKeys, _) => {
                plan_err!("{name} takes a dynamic bag and a key (or array of keys)")
            }
            (Op::BagMerge, args) if args.len() >= 2 && args.iter().all(is_text) => {
                Ok(vec![DataType::LargeUtf8; args.len()])
            }
            (Op::BagMerge, _) => plan_err!("{name} takes two or more dynamic bags"),
            (_, [d]) if is_text(d) => Ok(vec![DataType::LargeUtf8]),
            (_, [d]) => plan_err!("{name}: expected a dynamic (JSON text) value, got {d}"),
            _ => plan_err!("{name} takes one argument, got {}", arg_types.len()),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if scalar { 1 } else { n };
        let cols: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<_>>()?;
        let json = |b: &mut LargeStringBuilder, v: Option<Value>| {
            b.append_option(v.filter(|v| !v.is_null()).map(|v| v.to_string()))
        };
        let out: ArrayRef = match self.op {
            Op::ToDynamic => {
                let mut b = LargeStringBuilder::new();
                for i in 0..rows {
                    json(&mut b, json_at(&cols[0], i)?);
                }
                Arc::new(b.finish())
            }
            Op::BagPack => {
                let mut b = LargeStringBuilder::new();
                for i in 0..rows {
                    let mut m = serde_json::Map::new();
                    for pair in cols.chunks(2) {
                        let Some(k) = pair[0].as_string_opt::<i32>() else {
                            return exec_err!("{}: keys arrive as text", self.name());
                        };
                        if k.is_null(i) {
                            continue;
                        }
                        let v = json_at(&pair[1], i)?.unwrap_or(Value::Null);
                        m.insert(k.value(i).to_string(), v);
                    }
                    b.append_value(Value::Object(m).to_string());
                }
                Arc::new(b.finish())
            }
            op => {
                let Some(d) = cols[0].as_string_opt::<i64>() else {
                    return exec_err!("{}: dynamic values arrive as LargeUtf8", self.name());
                };
                match op {
                    Op::ParseJson => {
                        let mut b = LargeStringBuilder::new();
                        for v in d.iter() {
                            b.append_option(v.map(parse_json));
                        }
                        Arc::new(b.finish())
                    }
                    Op::Get => {
                        let k = &cols[1];
                        let mut b = LargeStringBuilder::new();
                        for i in 0..rows {
                            let key = if k.is_null(i) {
                                None
                            } else if let Some(s) = k.as_string_opt::<i32>() {
                                Some(Key::Name(s.value(i).to_string()))
                            } else {
                                let ints = k.as_primitive::<arrow::datatypes::Int64Type>();
                                Some(Key::Index(ints.value(i)))
                            };
                            let v = match key {
                                Some(key) => dyn_at(d, i).and_then(|v| get(&v, &key).cloned()),
                                None => None,
                            };
                            json(&mut b, v);
                        }
                        Arc::new(b.finish())
                    }
                    Op::ToText => {
                        let mut b = StringBuilder::new();
                        for i in 0..rows {
                            b.append_option(dyn_at(d, i).map(|v| to_text(&v)));
                        }
                        Arc::new(b.finish())
                    }
                    Op::Length => {
                        let mut b = Int64Builder::new();
                        for i in 0..rows {
                            b.append_option(dyn_at(d, i).and_then(|v| match v {
                                Value::Array(a) => Some(a.len() as i64),
                                _ => None,
                            }));
                        }
                        Arc::new(b.finish())
                    }
                    Op::Expand => {
                        let mut b = ListBuilder::new(LargeStringBuilder::new());
                        for i in 0..rows {
                            match dyn_at(d, i) {
                                Some(v) => {
                                    for x in expand(&v) {
                                        b.values().append_value(x.to_string());
                                    }
                                    b.append(true);
                                }
                                None => b.append(false),
                            }
                        }
                        Arc::new(b.finish())
                    }
                    Op::BagKeys => {
                        let mut b = ListBuilder::new(StringBuilder::new());
                        for i in 0..rows {
                            match dyn_at(d, i) {
                                Some(Value::Object(m)) => {
                                    for k in m.keys() {
                                        b.values().append_value(k);
                                    }
                                    b.append(true);
                                }
                                _ => b.append(false),
                            }
                        }
                        Arc::new(b.finish())
                    }
                    Op::BagHasKey => {
                        let Some(k) = cols[1].as_string_opt::<i32>() else {
                            return exec_err!("{}: the key arrives as text", self.name());
                        };
                        let mut b = arrow::array::BooleanBuilder::new();
                        for i in 0..rows {
                            b.append_option(match (dyn_at(d, i), k.is_null(i)) {
                                (Some(v @ Value::Object(_)), false) => {
                                    Some(has_key(&v, k.value(i)))
                                }
                                _ => None,
                            });
                        }
                        Arc::new(b.finish())
                    }
                    Op::BagRemoveKeys => {
                        let Some(k) = cols[1].as_string_opt::<i64>() else {
                            return exec_err!("{}: the keys arrive as dynamic", self.name());
                        };
                        let mut b = LargeStringBuilder::new();
                        for i in 0..rows {
                            let keys: Option<Vec<String>> = dyn_at(k, i).map(|v| match v {
                                Value::Array(a) => a.iter().map(to_text).collect(),
                                other => vec![to_text(&other)],
                            });
                            json(
                                &mut b,
                                match (dyn_at(d, i), keys) {
                                    (Some(v @ Value::Object(_)), Some(keys)) => {
                                        Some(remove_keys(&v, &keys))
                                    }
                                    _ => None,
                                },
                            );
                        }
                        Arc::new(b.finish())
                    }
                    Op::BagMerge => {
                        let mut parts = Vec::new();
                        for c in &cols {
                            let Some(c) = c.as_string_opt::<i64>() else {
                                return exec_err!("{}: bags arrive as LargeUtf8", self.name());
                            };
                            parts.push(c.clone());
                        }
                        let mut b = LargeStringBuilder::new();
                        for i in 0..rows {
                            let bags: Vec<Value> =
                                parts.iter().filter_map(|c| dyn_at(c, i)).collect();
                            json(&mut b, Some(merge(&bags)));
                        }
                        Arc::new(b.finish())
                    }
                    Op::ToDynamic | Op::BagPack => unreachable!("handled above"),
                }
            }
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
    fn documentation(&self) -> Option<&Documentation> {
        OPS.iter().position(|o| *o == self.op).map(|i| &DOCS[i])
    }
}

/// The dynamic-value functions: `kql_parse_json`, `kql_dyn_get`, `kql_dyn_tostring`,
/// `kql_dyn_length`, `kql_dyn_expand`, `kql_bag_keys`, `kql_bag_has_key`, `kql_bag_merge`,
/// `kql_bag_remove_keys`, `kql_bag_pack`, `kql_to_dynamic`.
pub fn dynamic_udfs() -> Vec<ScalarUDF> {
    OPS.into_iter()
        .map(|op| {
            ScalarUDF::new_from_impl(DynUdf {
                op,
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bags_arrays_and_their_members() {
        let v: Value = serde_json::from_str(r#"{"key1":"value3","key2":[5,"six",null]}"#).unwrap();
        let k = |s: &str| Key::Name(s.into());
        assert_eq!(get(&v, &k("key1")).map(to_text), Some("value3".into()));
        let arr = get(&v, &k("key2")).unwrap();
        assert_eq!(get(arr, &Key::Index(1)).map(to_text), Some("six".into()));
        assert_eq!(get(arr, &Key::Index(-3)).map(to_text), Some("5".into()));
        // a JSON null is no value; out of range and a missing member neither
        assert_eq!(get(arr, &Key::Index(2)), None);
        assert_eq!(get(arr, &Key::Index(3)), None);
        assert_eq!(get(&v, &k("nope")), None);
        assert_eq!(to_text(arr), r#"[5,"six",null]"#);
        // mv-expand: a bag's members one by one
        assert_eq!(
            expand(&v).iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            [r#"{"key1":"value3"}"#, r#"{"key2":[5,"six",null]}"#]
        );
        assert_eq!(parse_json("not json"), r#""not json""#);
        assert_eq!(parse_json(r#"{ "a" : 1 }"#), r#"{"a":1}"#);
    }

    #[test]
    fn bag_functions() {
        let v: Value = serde_json::from_str(
            r#"{"key1":123,"key2":{"prop1":"abc","prop2":"xyz"},"key3":[100,200]}"#,
        )
        .unwrap();
        assert!(has_key(&v, "key1") && has_key(&v, "$.key2.prop1") && !has_key(&v, "key9"));
        // Microsoft's bag_remove_keys example: a key and a nested path
        assert_eq!(
            remove_keys(&v, &["key3".into(), "$.key2.prop1".into()]).to_string(),
            r#"{"key1":123,"key2":{"prop2":"xyz"}}"#
        );
        // bag_merge: the first bag's value stays
        let a: Value = serde_json::from_str(r#"{"A1":12,"B1":2}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"A2":81,"A1":1}"#).unwrap();
        assert_eq!(merge(&[a, b]).to_string(), r#"{"A1":12,"A2":81,"B1":2}"#);
        // values of any type as dynamic
        assert_eq!(
            to_json(&ScalarValue::Utf8(Some("x".into()))),
            Value::from("x")
        );
        assert_eq!(
            to_json(&ScalarValue::LargeUtf8(Some("[1,2]".into()))).to_string(),
            "[1,2]"
        );
        assert_eq!(
            to_json(&ScalarValue::TimestampMicrosecond(
                Some(1_500_000),
                Some("UTC".into())
            )),
            Value::from("1970-01-01T00:00:01.5000000Z")
        );
        assert_eq!(
            to_json(&ScalarValue::TimestampMicrosecond(
                Some(1_722_297_600_000_000),
                None
            )),
            Value::from("2024-07-30T00:00:00.0000000Z")
        );
    }
}
