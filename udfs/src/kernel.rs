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

/// An all-NULL boolean result shaped like `like` (scalar stays scalar).
pub(crate) fn null_bool_like(like: &ColumnarValue, rows: usize) -> ColumnarValue {
    match like {
        ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::Boolean(None)),
        ColumnarValue::Array(_) => ColumnarValue::Array(new_null_array(&DataType::Boolean, rows)),
    }
}

fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)
    )
}

/// One row's set, read by [`SetUdf::set`]: `None` makes the row NULL.
type ReadSet<S> = for<'a> fn(&mut dyn Iterator<Item = Option<&'a str>>) -> Option<S>;

/// A boolean function of a string and a set of strings, given either as further string
/// arguments or as one array of strings (KQL's dynamic array): `ipv4_is_in_any_range`,
/// `kql_has_any`, `kql_has_all`. `set` reads one row's set (`None`: the row is NULL); `test`
/// answers for one non-null value against it. A constant set (the usual case) is read once.
pub(crate) struct SetUdf<S: 'static> {
    name: &'static str,
    doc: &'static LazyLock<Documentation>,
    set: ReadSet<S>,
    test: fn(&str, &S) -> Option<bool>,
    signature: Signature,
}

impl<S: Send + Sync + 'static> SetUdf<S> {
    pub(crate) fn udf(
        name: &'static str,
        doc: &'static LazyLock<Documentation>,
        set: ReadSet<S>,
        test: fn(&str, &S) -> Option<bool>,
    ) -> ScalarUDF {
        ScalarUDF::new_from_impl(SetUdf {
            name,
            doc,
            set,
            test,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }

    /// The set of row `row` of a list array.
    fn list_row(&self, lists: &ArrayRef, row: usize) -> Result<Option<S>> {
        if lists.is_null(row) {
            return Ok(None);
        }
        let values: ArrayRef = match lists.data_type() {
            DataType::List(_) => lists.as_list::<i32>().value(row),
            DataType::LargeList(_) => lists.as_list::<i64>().value(row),
            DataType::FixedSizeList(_, _) => lists.as_fixed_size_list().value(row),
            other => return exec_err!("{}: expected an array of strings, got {other}", self.name),
        };
        let values = to_utf8(&values)?;
        Ok((self.set)(&mut values.as_string::<i32>().iter()))
    }
}

impl<S> std::fmt::Debug for SetUdf<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetUdf").field("name", &self.name).finish()
    }
}

// Identity is the function name.
impl<S> PartialEq for SetUdf<S> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl<S> Eq for SetUdf<S> {}
impl<S> std::hash::Hash for SetUdf<S> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl<S: Send + Sync + 'static> ScalarUDFImpl for SetUdf<S> {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 2 {
            return plan_err!(
                "{} takes a value and at least one more string (or one array of them), got {} argument(s)",
                self.name,
                arg_types.len()
            );
        }
        let value = coerce_string(self.name, 0, &arg_types[0])?;
        if arg_types.len() == 2 && is_list(&arg_types[1]) {
            // One array: normalised to List<Utf8>.
            let item = match &arg_types[1] {
                DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                    f.data_type().clone()
                }
                _ => unreachable!("is_list"),
            };
            if !(is_string_like(&item) || item == DataType::Null) {
                return plan_err!("{}: the array must hold strings, got {item}", self.name);
            }
            return Ok(vec![
                value,
                DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(
                    DataType::Utf8,
                    true,
                ))),
            ]);
        }
        let mut out = vec![value];
        for (i, t) in arg_types.iter().enumerate().skip(1) {
            out.push(coerce_string(self.name, i, t)?);
        }
        Ok(out)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let value = &args.args[0];
        let rest = &args.args[1..];
        let list_form = rest.len() == 1 && is_list(&rest[0].data_type());

        // Fast path: a constant set, read once, then a unary kernel over the values.
        if rest.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            let set = if list_form {
                let ColumnarValue::Scalar(s) = &rest[0] else {
                    unreachable!("all scalars")
                };
                self.list_row(&s.to_array_of_size(1)?, 0)?
            } else {
                let mut texts = Vec::with_capacity(rest.len());
                for a in rest {
                    let ColumnarValue::Scalar(s) = a else {
                        unreachable!("all scalars")
                    };
                    match scalar_str(s) {
                        Some(t) => texts.push(t),
                        None => return exec_err!("{}: arguments must be strings", self.name),
                    }
                }
                (self.set)(&mut texts.iter().map(|t| t.as_deref()))
            };
            let Some(set) = set else {
                return Ok(null_bool_like(value, n));
            };
            let test = self.test;
            return map_columnar::<BooleanBuilder>(value, &|s, b| b.append_option(test(s, &set)));
        }

        // Per-row sets.
        let values = to_utf8(&value.to_array(n)?)?;
        let values = values.as_string::<i32>();
        let cols = if list_form {
            vec![rest[0].to_array(n)?]
        } else {
            rest.iter()
                .map(|a| to_utf8(&a.to_array(n)?))
                .collect::<Result<Vec<_>>>()?
        };
        let mut out = BooleanBuilder::with_capacity(n);
        for row in 0..n {
            let set = if list_form {
                self.list_row(&cols[0], row)?
            } else {
                (self.set)(&mut cols.iter().map(|c| {
                    let c = c.as_string::<i32>();
                    (!c.is_null(row)).then(|| c.value(row))
                }))
            };
            out.append_option(match (values.is_null(row), set) {
                (false, Some(set)) => (self.test)(values.value(row), &set),
                _ => None,
            });
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(self.doc)
    }
}
