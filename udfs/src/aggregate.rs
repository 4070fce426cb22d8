//! KQL aggregates whose SQL look-alikes differ: `make_set(x [, max])` and
//! `kql_percentile(x, p)`.
//!
//! Kusto's `make_set` (as the real engine answers Microsoft's documentation examples): the
//! distinct non-NULL values, in the order they are first met, at most `max` of them (default
//! 1,048,576), and an empty array, not NULL, when there is nothing. DataFusion's
//! `array_agg(DISTINCT x)` keeps a NULL, orders nothing and gives NULL for no rows. Across
//! partitions the first-met order is that of the merge: like Kusto, nothing promises an order.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;

use crate::DOC_SECTION;

/// Kusto's largest (and default) `make_set` size.
pub const MAKE_SET_LIMIT: usize = 1_048_576;

static MAKE_SET_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "KQL's make_set: an array of the distinct non-NULL values of x, in the order first met, \
         at most max of them (a constant, default and largest 1048576); an empty array when \
         there are none. Unlike array_agg(DISTINCT x) it drops NULL and never returns NULL.",
        "make_set(x [, max])",
    )
    .with_argument("x", "Expression of any type: the values to collect.")
    .with_argument("max", "Optional integer constant: the most values kept.")
    .with_sql_example(
        "> SELECT make_set(v) FROM (VALUES (1), (5), (NULL), (7), (5)) AS t(v);\n[1, 5, 7]",
    )
    .build()
});

/// The `make_set(x [, max])` aggregate function.
pub fn make_set_udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(MakeSet {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MakeSet {
    signature: Signature,
}

fn list_of(item: &DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item.clone(), true)))
}

impl AggregateUDFImpl for MakeSet {
    fn name(&self) -> &str {
        "make_set"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [x] => Ok(vec![x.clone()]),
            [x, max] if max.is_integer() || max == &DataType::Null => {
                Ok(vec![x.clone(), DataType::Int64])
            }
            [_, max] => plan_err!("make_set: argument 2 (max) must be an integer, got {max}"),
            _ => plan_err!(
                "make_set takes 1 or 2 arguments (x [, max]), got {}",
                arg_types.len()
            ),
        }
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of(&arg_types[0]))
    }
    fn is_nullable(&self) -> bool {
        false
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[make_set]", args.name),
            list_of(args.input_fields[0].data_type()),
            true,
        ))])
    }
    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let max = match acc_args.exprs.get(1) {
            None => MAKE_SET_LIMIT,
            Some(e) => match e.downcast_ref::<Literal>().map(|l| l.value()) {
                Some(ScalarValue::Int64(Some(n))) if *n >= 0 => (*n as usize).min(MAKE_SET_LIMIT),
                Some(ScalarValue::Int64(None)) | Some(ScalarValue::Null) => MAKE_SET_LIMIT,
                _ => return plan_err!("make_set: max must be a constant integer of at least 0"),
            },
        };
        Ok(Box::new(MakeSetAccumulator {
            item: acc_args.expr_fields[0].data_type().clone(),
            values: Vec::new(),
            seen: HashSet::new(),
            max,
        }))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&MAKE_SET_DOC)
    }
}

#[derive(Debug)]
struct MakeSetAccumulator {
    item: DataType,
    /// The set, in the order its values were first met.
    values: Vec<ScalarValue>,
    seen: HashSet<ScalarValue>,
    max: usize,
}

impl MakeSetAccumulator {
    fn add(&mut self, a: &dyn Array) -> Result<()> {
        for i in 0..a.len() {
            if self.values.len() >= self.max {
                break;
            }
            if a.is_null(i) {
                continue;
            }
            let v = ScalarValue::try_from_array(a, i)?;
            if self.seen.insert(v.clone()) {
                self.values.push(v);
            }
        }
        Ok(())
    }
}

impl Accumulator for MakeSetAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(values[0].as_ref())
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for row in 0..lists.len() {
            if !lists.is_null(row) {
                self.add(lists.value(row).as_ref())?;
            }
        }
        Ok(())
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::List(ScalarValue::new_list_nullable(
            &self.values,
            &self.item,
        )))
    }
    fn size(&self) -> usize {
        size_of_val(self)
            + self.values.iter().map(ScalarValue::size).sum::<usize>() * 2
            + self.seen.capacity() * size_of::<ScalarValue>()
    }
}

static PERCENTILE_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "KQL's percentile, computed exactly: the nearest-rank p-th percentile of the non-NULL \
         values of x (sorted ascending, the value at 1-based rank ceil(p/100 * n), at least 1), \
         so it is always one of the values and keeps x's type; NULL when there are none. Kusto \
         estimates the same definition with a T-Digest; percentile_cont interpolates instead.",
        "kql_percentile(x, p)",
    )
    .with_argument("x", "Numeric, datetime or duration expression.")
    .with_argument("p", "Constant between 0 and 100: the percentile.")
    .with_sql_example(
        "> SELECT kql_percentile(v, 50) FROM (VALUES (10), (20), (30), (40)) AS t(v);\n20",
    )
    .build()
});

/// The `kql_percentile(x, p)` aggregate function (KQL's `percentile`, nearest rank, exact).
pub fn percentile_udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(Percentile {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Percentile {
    signature: Signature,
}

/// The 0-based index of the nearest-rank `p`-th percentile among `n` sorted values (n > 0).
pub fn nearest_rank(p: f64, n: usize) -> usize {
    let rank = (p / 100.0 * n as f64).ceil();
    // at least rank 1, at most rank n (p = 100 gives n; rounding cannot push past it)
    (rank.max(1.0) as usize).min(n) - 1
}

impl AggregateUDFImpl for Percentile {
    fn name(&self) -> &str {
        "kql_percentile"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [x, p] => {
                let orderable = x.is_numeric()
                    || x.is_temporal()
                    || matches!(x, DataType::Interval(_) | DataType::Null);
                if !orderable {
                    return plan_err!(
                        "kql_percentile: argument 1 must be numeric, a datetime or a timespan, got {x}"
                    );
                }
                if !(p.is_numeric() || p == &DataType::Null) {
                    return plan_err!("kql_percentile: argument 2 (p) must be a number, got {p}");
                }
                Ok(vec![x.clone(), DataType::Float64])
            }
            _ => plan_err!(
                "kql_percentile takes 2 arguments (x, p), got {}",
                arg_types.len()
            ),
        }
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[kql_percentile]", args.name),
            list_of(args.input_fields[0].data_type()),
            true,
        ))])
    }
    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let p = match acc_args.exprs.get(1).and_then(|e| {
            e.downcast_ref::<Literal>()
                .map(|l| l.value().cast_to(&DataType::Float64))
        }) {
            Some(Ok(ScalarValue::Float64(Some(p)))) if (0.0..=100.0).contains(&p) => p,
            _ => return plan_err!("kql_percentile: p must be a constant between 0 and 100"),
        };
        Ok(Box::new(PercentileAccumulator {
            item: acc_args.expr_fields[0].data_type().clone(),
            parts: Vec::new(),
            p,
        }))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&PERCENTILE_DOC)
    }
}

#[derive(Debug)]
struct PercentileAccumulator {
    item: DataType,
    /// The non-NULL values met so far, batch by batch.
    parts: Vec<ArrayRef>,
    p: f64,
}

impl PercentileAccumulator {
    fn add(&mut self, a: &ArrayRef) -> Result<()> {
        let a = if a.null_count() > 0 {
            arrow::compute::filter(a, &arrow::compute::is_not_null(a)?)?
        } else {
            Arc::clone(a)
        };
        if !a.is_empty() {
            self.parts.push(a);
        }
        Ok(())
    }
    fn all(&self) -> Result<ArrayRef> {
        if self.parts.is_empty() {
            return Ok(arrow::array::new_empty_array(&self.item));
        }
        let parts: Vec<&dyn Array> = self.parts.iter().map(|a| a.as_ref()).collect();
        Ok(arrow::compute::concat(&parts)?)
    }
}

impl Accumulator for PercentileAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for row in 0..lists.len() {
            if !lists.is_null(row) {
                self.add(&lists.value(row))?;
            }
        }
        Ok(())
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let all = self.all()?;
        self.parts = vec![Arc::clone(&all)];
        Ok(vec![ScalarValue::List(Arc::new(
            arrow::array::ListArray::new(
                Arc::new(Field::new_list_field(self.item.clone(), true)),
                arrow::buffer::OffsetBuffer::from_lengths([all.len()]),
                all,
                None,
            ),
        ))])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        let all = self.all()?;
        if all.is_empty() {
            return ScalarValue::try_from(&self.item);
        }
        let order = arrow::compute::sort_to_indices(&all, None, None)?;
        let k = order.value(nearest_rank(self.p, all.len())) as usize;
        ScalarValue::try_from_array(&all, k)
    }
    fn size(&self) -> usize {
        size_of_val(self)
            + self
                .parts
                .iter()
                .map(|a| a.get_array_memory_size())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};

    fn acc(max: usize, item: DataType) -> MakeSetAccumulator {
        MakeSetAccumulator {
            item,
            values: Vec::new(),
            seen: HashSet::new(),
            max,
        }
    }

    fn items(a: &mut MakeSetAccumulator) -> Vec<ScalarValue> {
        let ScalarValue::List(l) = a.evaluate().unwrap() else {
            panic!("a list")
        };
        let v = l.value(0);
        (0..v.len())
            .map(|i| ScalarValue::try_from_array(&v, i).unwrap())
            .collect()
    }

    #[test]
    fn distinct_non_null_first_met_at_most_max() {
        let mut a = acc(MAKE_SET_LIMIT, DataType::Int64);
        let batch: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(1),
            Some(5),
            None,
            Some(7),
            Some(5),
        ]));
        a.update_batch(&[batch.clone()]).unwrap();
        assert_eq!(
            items(&mut a),
            [1, 5, 7].map(|v| ScalarValue::Int64(Some(v)))
        );
        let mut b = acc(2, DataType::Int64);
        b.update_batch(&[batch]).unwrap();
        assert_eq!(items(&mut b), [1, 5].map(|v| ScalarValue::Int64(Some(v))));
        // Nothing: an empty array, not NULL.
        let mut e = acc(MAKE_SET_LIMIT, DataType::Utf8);
        assert!(items(&mut e).is_empty());
        assert!(!e.evaluate().unwrap().is_null());
    }

    #[test]
    fn partial_sets_merge() {
        let mut p1 = acc(MAKE_SET_LIMIT, DataType::Utf8);
        p1.update_batch(&[Arc::new(StringArray::from(vec!["a", "b"]))])
            .unwrap();
        let mut p2 = acc(MAKE_SET_LIMIT, DataType::Utf8);
        p2.update_batch(&[Arc::new(StringArray::from(vec![
            Some("b"),
            None,
            Some("c"),
        ]))])
        .unwrap();
        let mut total = acc(MAKE_SET_LIMIT, DataType::Utf8);
        for p in [&mut p1, &mut p2] {
            let state = p.state().unwrap()[0].to_array().unwrap();
            total.merge_batch(&[state]).unwrap();
        }
        let s = |v: &str| ScalarValue::Utf8(Some(v.into()));
        assert_eq!(items(&mut total), [s("a"), s("b"), s("c")]);
    }

    #[test]
    fn nearest_rank_is_kusto_s_definition() {
        // Microsoft's percentilesw example, unweighted: 10 x8, 20 x6, 30 x3, 40 x1 (n = 18).
        let mut v = vec![10i64; 8];
        v.extend([20; 6]);
        v.extend([30; 3]);
        v.push(40);
        let pick = |p: f64| v[nearest_rank(p, v.len())];
        assert_eq!([pick(50.0), pick(75.0), pick(99.9)], [20, 20, 40]);
        assert_eq!([pick(0.0), pick(100.0)], [10, 40]);
        assert_eq!(nearest_rank(50.0, 1), 0);
    }

    #[test]
    fn percentile_skips_nulls_merges_and_is_null_for_nothing() {
        let acc = |p: f64| PercentileAccumulator {
            item: DataType::Int64,
            parts: Vec::new(),
            p,
        };
        let mut p1 = acc(50.0);
        p1.update_batch(&[Arc::new(Int64Array::from(vec![Some(40), None, Some(10)]))])
            .unwrap();
        let mut p2 = acc(50.0);
        p2.update_batch(&[Arc::new(Int64Array::from(vec![Some(30), Some(20)]))])
            .unwrap();
        let mut total = acc(50.0);
        for p in [&mut p1, &mut p2] {
            let state = p.state().unwrap()[0].to_array().unwrap();
            total.merge_batch(&[state]).unwrap();
        }
        // 10 20 30 40: rank ceil(0.5 * 4) = 2
        assert_eq!(total.evaluate().unwrap(), ScalarValue::Int64(Some(20)));
        assert_eq!(acc(50.0).evaluate().unwrap(), ScalarValue::Int64(None));
    }
}
