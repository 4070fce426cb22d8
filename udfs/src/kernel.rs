//! Shared plumbing: apply a per-value function over every string representation DataFusion can hand a
//! scalar UDF (Utf8, LargeUtf8, Utf8View, dictionary-encoded strings, NULL), scalar or array.
//!
//! Dictionary arrays are evaluated once per dictionary value and then expanded with `take`, so a
//! column with few distinct hostnames costs a handful of evaluations per batch.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanBuilder, StringBuilder, new_null_array};
use arrow::compute::take;
use arrow::datatypes::DataType;
use std::sync::LazyLock;

use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

/// True for the types a string argument may arrive as without a cast.
pub(crate) fn is_string_like(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => matches!(
            v.as_ref(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        _ => false,
    }
}

/// `coerce_types` for a function whose arguments are all strings: string-like types pass unchanged
/// (so dictionaries stay dictionaries and reach the kernel), NULL becomes Utf8, anything else is a
/// planning error that names the function, the argument position and the type.
pub(crate) fn coerce_all_strings(name: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    arg_types
        .iter()
        .enumerate()
        .map(|(i, t)| coerce_string(name, i, t))
        .collect()
}

/// `coerce_types` for a function of exactly `n` string arguments: the arity is checked first
/// (a planning error such as "f takes 2 arguments, got 1"), then each type as above.
pub(crate) fn coerce_n_strings(
    name: &str,
    n: usize,
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    if arg_types.len() != n {
        let s = if n == 1 { "" } else { "s" };
        return plan_err!("{name} takes {n} argument{s}, got {}", arg_types.len());
    }
    coerce_all_strings(name, arg_types)
}

pub(crate) fn coerce_string(name: &str, position: usize, t: &DataType) -> Result<DataType> {
    if is_string_like(t) {
        Ok(t.clone())
    } else if t == &DataType::Null {
        Ok(DataType::Utf8)
    } else {
        plan_err!(
            "{name}: argument {} must be a string, got {t}",
            position + 1
        )
    }
}

/// An Arrow builder a kernel appends its results to.
pub(crate) trait Sink: Default {
    const TYPE: DataType;
    fn with_capacity(n: usize) -> Self;
    fn null(&mut self);
    fn finish_array(&mut self) -> ArrayRef;
}

impl Sink for BooleanBuilder {
    const TYPE: DataType = DataType::Boolean;
    fn with_capacity(n: usize) -> Self {
        BooleanBuilder::with_capacity(n)
    }
    fn null(&mut self) {
        self.append_null()
    }
    fn finish_array(&mut self) -> ArrayRef {
        Arc::new(self.finish())
    }
}

impl Sink for StringBuilder {
    const TYPE: DataType = DataType::Utf8;
    fn with_capacity(n: usize) -> Self {
        StringBuilder::with_capacity(n, n * 16)
    }
    fn null(&mut self) {
        self.append_null()
    }
    fn finish_array(&mut self) -> ArrayRef {
        Arc::new(self.finish())
    }
}

fn run<'a, B: Sink>(
    iter: impl Iterator<Item = Option<&'a str>>,
    n: usize,
    f: &dyn Fn(&str, &mut B),
) -> ArrayRef {
    let mut b = B::with_capacity(n);
    for v in iter {
        match v {
            Some(s) => f(s, &mut b),
            None => b.null(),
        }
    }
    b.finish_array()
}

/// Apply `f` to every non-null string of `array`; `f` appends exactly one value (or null) to the
/// builder. NULL in gives NULL out.
pub(crate) fn map_array<B: Sink>(array: &dyn Array, f: &dyn Fn(&str, &mut B)) -> Result<ArrayRef> {
    let n = array.len();
    Ok(match array.data_type() {
        DataType::Utf8 => run(array.as_string::<i32>().iter(), n, f),
        DataType::LargeUtf8 => run(array.as_string::<i64>().iter(), n, f),
        DataType::Utf8View => run(array.as_string_view().iter(), n, f),
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let values = map_array::<B>(dict.values().as_ref(), f)?;
            take(values.as_ref(), dict.keys(), None)?
        }
        DataType::Null => new_null_array(&B::TYPE, n),
        other => return exec_err!("expected a string array, got {other}"),
    })
}

/// Apply `f` over a scalar or array argument, keeping scalars scalar.
pub(crate) fn map_columnar<B: Sink>(
    arg: &ColumnarValue,
    f: &dyn Fn(&str, &mut B),
) -> Result<ColumnarValue> {
    match arg {
        ColumnarValue::Array(a) => Ok(ColumnarValue::Array(map_array::<B>(a.as_ref(), f)?)),
        ColumnarValue::Scalar(s) => {
            let arr = s.to_array_of_size(1)?;
            let out = map_array::<B>(arr.as_ref(), f)?;
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        }
    }
}

/// A kernel for functions returning `Option<bool>`.
pub(crate) fn bool_fn(f: impl Fn(&str) -> Option<bool>) -> impl Fn(&str, &mut BooleanBuilder) {
    move |s, b| b.append_option(f(s))
}

/// If `arg` is a non-null string scalar (any string type), its text; `Ok(None)` for a NULL scalar;
/// `Err` for arrays. Used to pre-parse constant arguments once.
pub(crate) fn scalar_str(value: &ScalarValue) -> Option<Option<String>> {
    match value {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
            Some(v.clone())
        }
        ScalarValue::Dictionary(_, inner) => scalar_str(inner),
        ScalarValue::Null => Some(None),
        _ => None,
    }
}

/// Cast any string-like array to a plain `StringArray` (for the slow, per-row paths of functions
/// with several array arguments).
pub(crate) fn to_utf8(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(arrow::compute::cast(array, &DataType::Utf8)?)
}

/// A scalar UDF of one string argument computed value by value: `f` appends the result for one
/// non-null string (NULL in gives NULL out without calling it). `ipv4_is_private`,
/// `second_level_domain` and `registered_domain` are all this shape.
pub(crate) struct UnaryStringUdf<B: Sink> {
    name: &'static str,
    doc: &'static LazyLock<Documentation>,
    f: fn(&str, &mut B),
    signature: Signature,
}

impl<B: Sink + 'static> UnaryStringUdf<B> {
    pub(crate) fn udf(
        name: &'static str,
        doc: &'static LazyLock<Documentation>,
        f: fn(&str, &mut B),
    ) -> ScalarUDF {
        ScalarUDF::new_from_impl(UnaryStringUdf {
            name,
            doc,
            f,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }
}

impl<B: Sink> std::fmt::Debug for UnaryStringUdf<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnaryStringUdf")
            .field("name", &self.name)
            .finish()
    }
}

// Identity is the function name: two instances with the same name are the same function.
impl<B: Sink> PartialEq for UnaryStringUdf<B> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl<B: Sink> Eq for UnaryStringUdf<B> {}
impl<B: Sink> std::hash::Hash for UnaryStringUdf<B> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl<B: Sink + 'static> ScalarUDFImpl for UnaryStringUdf<B> {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(B::TYPE)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_n_strings(self.name, 1, arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_columnar::<B>(&args.args[0], &self.f)
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(self.doc)
    }
}
