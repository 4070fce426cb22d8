//! KQL's `dynamic` values (property bags, arrays of mixed types) as JSON text.
//!
//! A dynamic value travels as its compact JSON text in a `LargeUtf8` column (nethunt-kql plans
//! `dynamic({...})`, `parse_json`, and `dynamic` columns so); these functions read it:
//! `kql_parse_json(text)`, `kql_dyn_get(d, key_or_index)`, `kql_dyn_tostring(d)`,
//! `kql_dyn_length(d)` and `kql_dyn_expand(d)`. A NULL or a JSON `null` is NULL throughout.

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
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DynUdf {
    op: Op,
    signature: Signature,
}

static DOCS: LazyLock<[Documentation; 5]> = LazyLock::new(|| {
    let d = |text: &str, syntax: &str| Documentation::builder(DOC_SECTION, text, syntax).build();
    [
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

impl ScalarUDFImpl for DynUdf {
    fn name(&self) -> &str {
        Self::name_of(self.op)
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.op {
            Op::ParseJson | Op::Get => DataType::LargeUtf8,
            Op::ToText => DataType::Utf8,
            Op::Length => DataType::Int64,
            Op::Expand => dyn_list(),
        })
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        match (self.op, arg_types) {
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
        let d = args.args[0].to_array(rows)?;
        let Some(d) = d.as_string_opt::<i64>() else {
            return exec_err!("{}: dynamic values arrive as LargeUtf8", self.name());
        };
        let out: ArrayRef = match self.op {
            Op::ParseJson => {
                let mut b = LargeStringBuilder::new();
                for v in d.iter() {
                    b.append_option(v.map(parse_json));
                }
                Arc::new(b.finish())
            }
            Op::Get => {
                let k = args.args[1].to_array(rows)?;
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
                    let v = match (d.is_null(i), key) {
                        (false, Some(key)) => {
                            parse(d.value(i)).and_then(|v| get(&v, &key).map(Value::to_string))
                        }
                        _ => None,
                    };
                    b.append_option(v);
                }
                Arc::new(b.finish())
            }
            Op::ToText => {
                let mut b = StringBuilder::new();
                for v in d.iter() {
                    b.append_option(v.and_then(parse).map(|v| to_text(&v)));
                }
                Arc::new(b.finish())
            }
            Op::Length => {
                let mut b = Int64Builder::new();
                for v in d.iter() {
                    b.append_option(v.and_then(parse).and_then(|v| match v {
                        Value::Array(a) => Some(a.len() as i64),
                        _ => None,
                    }));
                }
                Arc::new(b.finish())
            }
            Op::Expand => {
                let mut b = ListBuilder::new(LargeStringBuilder::new());
                for v in d.iter() {
                    match v.and_then(parse) {
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
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
    fn documentation(&self) -> Option<&Documentation> {
        let i = match self.op {
            Op::ParseJson => 0,
            Op::Get => 1,
            Op::ToText => 2,
            Op::Length => 3,
            Op::Expand => 4,
        };
        Some(&DOCS[i])
    }
}

/// The dynamic-value functions: `kql_parse_json`, `kql_dyn_get`, `kql_dyn_tostring`,
/// `kql_dyn_length`, `kql_dyn_expand`.
pub fn dynamic_udfs() -> Vec<ScalarUDF> {
    [Op::ParseJson, Op::Get, Op::ToText, Op::Length, Op::Expand]
        .into_iter()
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
}
