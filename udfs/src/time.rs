//! `datetime_diff(period, a, b)`: Kusto's count of calendar periods between two datetimes.
//!
//! Kusto does not divide the elapsed time: it counts the period boundaries between the two
//! instants, that is, it truncates both to the period and subtracts. Microsoft's documented
//! examples, all reproduced in the tests below: `year` of 2017-01-01 and 2000-12-31 is 17;
//! `month` of 2017-01-01 and 2015-12-30 is 13; `week` (weeks begin on Sunday) of 2017-10-29 00:00
//! and 2017-09-30 23:59 is 5; `hour` of 2017-10-31 01:00 and 2017-10-30 23:59 is 2; `nanosecond`
//! of .0000000 and .0000007 is -700.

use std::sync::{Arc, LazyLock};

use arrow::array::{Array, AsArray, Int64Array};
use arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::{DOC_SECTION, kernel};

/// A calendar period of `datetime_diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

impl Period {
    /// Kusto's period names, in any letter case.
    pub fn parse(s: &str) -> Option<Period> {
        Some(match s.to_ascii_lowercase().as_str() {
            "year" => Period::Year,
            "quarter" => Period::Quarter,
            "month" => Period::Month,
            "week" => Period::Week,
            "day" => Period::Day,
            "hour" => Period::Hour,
            "minute" => Period::Minute,
            "second" => Period::Second,
            "millisecond" => Period::Millisecond,
            "microsecond" => Period::Microsecond,
            "nanosecond" => Period::Nanosecond,
            _ => return None,
        })
    }

    /// The number of the period that holds the instant `ns` (nanoseconds since the Unix epoch,
    /// UTC), counted from any fixed origin: differences of these are `datetime_diff`.
    pub fn index(self, ns: i64) -> i64 {
        const DAY: i64 = 86_400_000_000_000;
        let calendar = || year_month0(ns.div_euclid(DAY));
        match self {
            Period::Nanosecond => ns,
            Period::Microsecond => ns.div_euclid(1_000),
            Period::Millisecond => ns.div_euclid(1_000_000),
            Period::Second => ns.div_euclid(1_000_000_000),
            Period::Minute => ns.div_euclid(60_000_000_000),
            Period::Hour => ns.div_euclid(3_600_000_000_000),
            Period::Day => ns.div_euclid(DAY),
            // 1970-01-01 was a Thursday: the Sunday before it is day -4.
            Period::Week => (ns.div_euclid(DAY) + 4).div_euclid(7),
            Period::Month => {
                let (y, m) = calendar();
                y * 12 + m
            }
            Period::Quarter => {
                let (y, m) = calendar();
                y * 4 + m / 3
            }
            Period::Year => calendar().0,
        }
    }
}

/// The proleptic Gregorian year and month (0-11) of day `days` since 1970-01-01: the civil-date
/// algorithm of Howard Hinnant's `civil_from_days` (public domain), which is exact over the whole
/// i64 nanosecond range (kept here rather than adding a date crate to this crate's dependencies).
fn year_month0(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let month0 = if mp < 10 { mp + 2 } else { mp - 10 }; // January = 0
    let year = yoe + era * 400 + i64::from(month0 < 2);
    (year, month0)
}

/// Kusto `datetime_diff(period, a, b)` on instants in nanoseconds.
pub fn datetime_diff(period: Period, a_ns: i64, b_ns: i64) -> i64 {
    period.index(a_ns) - period.index(b_ns)
}

static DATETIME_DIFF_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Kusto datetime_diff: the number of calendar periods between two datetimes, counted as \
         period boundaries crossed (both truncated to the period, then subtracted), not as \
         elapsed time divided. Weeks begin on Sunday. Periods: year, quarter, month, week, day, \
         hour, minute, second, millisecond, microsecond, nanosecond (any case). NULL when either \
         datetime is NULL; an unknown period is an error.",
        "datetime_diff(period, datetime1, datetime2)",
    )
    .with_argument("period", "String: the period to count.")
    .with_argument(
        "datetime1",
        "Timestamp (any unit or time zone) or ISO 8601 string.",
    )
    .with_argument(
        "datetime2",
        "Timestamp or string; the result is datetime1 - datetime2.",
    )
    .with_sql_example(
        "> SELECT datetime_diff('month', TIMESTAMP '2017-01-01', TIMESTAMP '2015-12-30');\n13",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DatetimeDiff {
    signature: Signature,
}

impl Default for DatetimeDiff {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn instant_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

impl ScalarUDFImpl for DatetimeDiff {
    fn name(&self) -> &str {
        "datetime_diff"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return plan_err!("datetime_diff takes 3 arguments, got {}", arg_types.len());
        }
        let period = kernel::coerce_string(self.name(), 0, &arg_types[0])?;
        let mut out = vec![period];
        for (i, t) in arg_types.iter().enumerate().skip(1) {
            match t {
                DataType::Timestamp(_, _)
                | DataType::Date32
                | DataType::Date64
                | DataType::Null
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View => out.push(instant_type()),
                other => {
                    return plan_err!(
                        "datetime_diff: argument {} must be a datetime, got {other}",
                        i + 1
                    );
                }
            }
        }
        Ok(out)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let parse = |p: &str| match Period::parse(p) {
            Some(p) => Ok(p),
            None => exec_err!(
                "datetime_diff: unknown period '{p}' (year, quarter, month, week, day, hour, \
                 minute, second, millisecond, microsecond, nanosecond)"
            ),
        };
        // The period is nearly always a constant: parsed once, not once per row.
        let constant = match &args.args[0] {
            ColumnarValue::Scalar(s) => match kernel::scalar_str(s) {
                Some(Some(p)) => Some(Some(parse(&p)?)),
                Some(None) => Some(None),
                None => return exec_err!("datetime_diff: the period must be a string"),
            },
            ColumnarValue::Array(_) => None,
        };
        let a = args.args[1].to_array(n)?;
        let b = args.args[2].to_array(n)?;
        let (Some(a), Some(b)) = (
            a.as_primitive_opt::<TimestampNanosecondType>(),
            b.as_primitive_opt::<TimestampNanosecondType>(),
        ) else {
            return exec_err!("datetime_diff: datetimes arrive as nanosecond timestamps");
        };
        let out: Int64Array = match constant {
            Some(None) => Int64Array::new_null(n),
            Some(Some(p)) => a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| Some(datetime_diff(p, x?, y?)))
                .collect(),
            None => {
                let periods = kernel::to_utf8(&args.args[0].to_array(n)?)?;
                let periods = periods.as_string::<i32>();
                let mut out = Vec::with_capacity(n);
                for i in 0..n {
                    if periods.is_null(i) || a.is_null(i) || b.is_null(i) {
                        out.push(None);
                        continue;
                    }
                    out.push(Some(datetime_diff(
                        parse(periods.value(i))?,
                        a.value(i),
                        b.value(i),
                    )));
                }
                Int64Array::from(out)
            }
        };
        Ok(
            if args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)))
            {
                ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&out, 0)?)
            } else {
                ColumnarValue::Array(Arc::new(out))
            },
        )
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&DATETIME_DIFF_DOC)
    }
}

/// The `datetime_diff(period, a, b)` scalar function.
pub fn datetime_diff_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(DatetimeDiff::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `t` (UTC) in nanoseconds, parsed by arrow's string-to-timestamp cast.
    fn ns(t: &str) -> i64 {
        let a = arrow::array::StringArray::from(vec![t]);
        let c = arrow::compute::cast(&a, &DataType::Timestamp(TimeUnit::Nanosecond, None)).unwrap();
        c.as_primitive::<TimestampNanosecondType>().value(0)
    }

    /// Every example of Microsoft's datetime_diff page, with its documented answer.
    #[test]
    fn kusto_documented_examples() {
        let d = |p: &str, a: &str, b: &str| datetime_diff(Period::parse(p).unwrap(), ns(a), ns(b));
        assert_eq!(d("year", "2017-01-01 00:00:00", "2000-12-31 00:00:00"), 17);
        assert_eq!(
            d("quarter", "2017-07-01 00:00:00", "2017-03-30 00:00:00"),
            2
        );
        assert_eq!(d("month", "2017-01-01 00:00:00", "2015-12-30 00:00:00"), 13);
        assert_eq!(d("week", "2017-10-29 00:00:00", "2017-09-30 23:59:00"), 5);
        assert_eq!(d("day", "2017-10-29 00:00:00", "2017-09-30 23:59:00"), 29);
        assert_eq!(d("hour", "2017-10-31 01:00:00", "2017-10-30 23:59:00"), 2);
        assert_eq!(d("minute", "2017-10-30 23:05:01", "2017-10-30 23:00:59"), 5);
        assert_eq!(
            d(
                "second",
                "2017-10-30 23:00:10.100",
                "2017-10-30 23:00:00.900"
            ),
            10
        );
        assert_eq!(
            d(
                "millisecond",
                "2017-10-30 23:00:00.200100",
                "2017-10-30 23:00:00.100900"
            ),
            100
        );
        assert_eq!(
            d(
                "microsecond",
                "2017-10-30 23:00:00.1009001",
                "2017-10-30 23:00:00.1008009"
            ),
            100
        );
        assert_eq!(
            d(
                "nanosecond",
                "2017-10-30 23:00:00.0000000",
                "2017-10-30 23:00:00.0000007"
            ),
            -700
        );
    }

    /// The civil-date arithmetic against every day of 1900-2100, walked one day at a time.
    #[test]
    fn calendar_of_every_day() {
        let (mut y, mut m, mut d) = (1900i64, 0i64, 1i64);
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let len = |y: i64, m: i64| match m {
            1 => 28 + i64::from(leap(y)),
            3 | 5 | 8 | 10 => 30,
            _ => 31,
        };
        // 1900-01-01 is day -25567; 2100-01-01 is day 47482.
        for days in -25_567..47_482 {
            assert_eq!(year_month0(days), (y, m), "day {days}");
            d += 1;
            if d > len(y, m) {
                d = 1;
                m += 1;
                if m == 12 {
                    m = 0;
                    y += 1;
                }
            }
        }
        assert_eq!((y, m, d), (2100, 0, 1));
    }

    #[test]
    fn before_the_epoch_and_names() {
        // Floor, not truncation toward zero: 1969-12-31 23:59:59.5 is in the second before 0.
        assert_eq!(Period::Second.index(-500_000_000), -1);
        assert_eq!(Period::Week.index(ns("1969-12-28 00:00:00")), 0);
        assert_eq!(Period::Week.index(ns("1969-12-27 23:59:59")), -1);
        assert_eq!(Period::parse("Year"), Some(Period::Year));
        assert_eq!(Period::parse("fortnight"), None);
    }
}
