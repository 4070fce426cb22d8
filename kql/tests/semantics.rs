//! Hand-worked tests of the traps of KQL against SQL (the semantics sheet, section 0), one
//! construct at a time, on inputs small enough to work out by hand. Each expected answer is
//! what Kusto's documentation says the query returns, written here before running it.

use arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;

/// The rows of `kql`, each as its values joined by '|' (NULL for null), in the result's order.
async fn rows(kql: &str) -> Vec<String> {
    let ctx = SessionContext::new();
    nethunt_udfs::register_all(&ctx);
    // a table with NULL strings and numbers, which KQL's own literals cannot make
    ctx.sql(
        "CREATE VIEW \"T\" AS SELECT * FROM (VALUES ('a', 1), (NULL, 2), ('', 3), ('b', NULL)) AS v(s, n)",
    )
    .await
    .unwrap();
    let script = nethunt_kql::parse(kql).unwrap_or_else(|e| panic!("{kql}: {e}"));
    let planned = nethunt_kql::plan(&script, &ctx.state(), &Default::default())
        .await
        .unwrap_or_else(|e| panic!("{kql}: {e}"));
    let batches = ctx
        .execute_logical_plan(planned.plan)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{kql}: {e}"));
    let mut out = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            let vals: Vec<String> = b
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(r) {
                        "NULL".to_string()
                    } else {
                        array_value_to_string(c, r).unwrap()
                    }
                })
                .collect();
            out.push(vals.join("|"));
        }
    }
    out
}

async fn sorted(kql: &str) -> Vec<String> {
    let mut r = rows(kql).await;
    r.sort();
    r
}

#[tokio::test]
async fn strings_are_never_null() {
    // NULL and '' are one group, shown as ''
    assert_eq!(
        sorted("T | summarize c = count() by s").await,
        ["a|1", "b|1", "|2"]
    );
    assert_eq!(sorted("T | where isempty(s) | project n").await, ["2", "3"]);
    assert_eq!(
        sorted("T | where isnotempty(s) | project s").await,
        ["a", "b"]
    );
    // != keeps the NULL string (it is '')
    assert_eq!(
        sorted("T | where s != 'a' | project n").await,
        ["2", "3", "NULL"]
    );
    // isnull of a string is false, even for a NULL read from a table
    assert_eq!(rows("T | where isnull(s) | count").await, ["0"]);
    // coalesce skips '' as well as NULL
    assert_eq!(rows("print c = coalesce('', 'x')").await, ["x"]);
    // extract with no match gives ''
    assert_eq!(rows("print e = extract('z([0-9])', 1, 'abc')").await, [""]);
}

#[tokio::test]
async fn null_compares_two_valued() {
    // n: 1, 2, 3, NULL. == drops the NULL; != and !in keep it
    assert_eq!(sorted("T | where n == 1 | project n").await, ["1"]);
    assert_eq!(
        sorted("T | where n != 1 | project n").await,
        ["2", "3", "NULL"]
    );
    assert_eq!(
        sorted("T | where n in (1, 2) | project n").await,
        ["1", "2"]
    );
    assert_eq!(
        sorted("T | where n !in (1, 2) | project n").await,
        ["3", "NULL"]
    );
    // as values: null == 1 is false, null != 1 true
    assert_eq!(
        sorted("T | where isnull(n) | extend e = n == 1, ne = n != 1 | project e, ne").await,
        ["false|true"]
    );
    // iff on a NULL condition takes the else branch
    assert_eq!(
        sorted("T | where isnull(n) | project r = iff(n > 0, 'y', 'n')").await,
        ["n"]
    );
    // a let-bound dynamic array spreads into in/!in
    assert_eq!(
        sorted("let ports = dynamic([1, 3]); T | where n !in (ports) | project n").await,
        ["2", "NULL"]
    );
}

#[tokio::test]
async fn sort_puts_nulls_last_descending_first_ascending() {
    assert_eq!(
        rows("T | sort by n | project n").await,
        ["3", "2", "1", "NULL"]
    );
    assert_eq!(
        rows("T | sort by n asc | project n").await,
        ["NULL", "1", "2", "3"]
    );
    assert_eq!(
        rows("T | sort by n desc nulls first | project n").await,
        ["NULL", "3", "2", "1"]
    );
    assert_eq!(
        rows("range x from 1 to 10 step 1 | top 3 by x").await,
        ["10", "9", "8"]
    );
}

#[tokio::test]
async fn term_and_case_rules() {
    let ports = "datatable(p:long)[3389, 33890, 13389]";
    // has is a whole term: 33890 and 13389 do not hold the term 3389
    assert_eq!(
        sorted(&format!("{ports} | where tostring(p) has '3389'")).await,
        ["3389"]
    );
    assert_eq!(
        sorted(&format!("{ports} | where tostring(p) has_any ('3389')")).await,
        ["3389"]
    );
    // contains is a substring test
    assert_eq!(
        sorted(&format!("{ports} | where tostring(p) contains '3389'")).await,
        ["13389", "3389", "33890"]
    );
    let hosts = "datatable(h:string)['NAS.LAN', 'x.lan', 'lan', 'Kusto']";
    // endswith, startswith, has, contains and =~ ignore case; == and _cs do not
    assert_eq!(
        sorted(&format!("{hosts} | where h endswith '.lan'")).await,
        ["NAS.LAN", "x.lan"]
    );
    assert_eq!(
        sorted(&format!("{hosts} | where h endswith_cs '.lan'")).await,
        ["x.lan"]
    );
    assert_eq!(
        sorted(&format!("{hosts} | where h startswith 'nas'")).await,
        ["NAS.LAN"]
    );
    assert_eq!(
        sorted(&format!("{hosts} | where h =~ 'kusto'")).await,
        ["Kusto"]
    );
    assert_eq!(
        rows(&format!("{hosts} | where h == 'kusto' | count")).await,
        ["0"]
    );
    assert_eq!(
        sorted(&format!("{hosts} | where h in~ ('KUSTO', 'lan')")).await,
        ["Kusto", "lan"]
    );
    assert_eq!(
        sorted(&format!("{hosts} | where h !has 'lan'")).await,
        ["Kusto"]
    );
    // a lambda with a typed parameter (the seed's isInternal)
    assert_eq!(
        sorted(&format!(
            "let isInternal = (u:string) {{ u endswith '.lan' or u endswith '.home' }}; {hosts} | where not(isInternal(h))"
        ))
        .await,
        ["Kusto", "lan"]
    );
}

#[tokio::test]
async fn bins_count_from_the_epoch_and_keep_their_column_name() {
    assert_eq!(
        rows("print b = bin(datetime(2024-07-30 00:07:00), 5m)").await,
        ["2024-07-30T00:05:00Z"]
    );
    assert_eq!(
        rows("print a = bin(7, 5), b = bin(-1, 10), c = bin(2.5, 1)").await,
        ["5|-10|2.0"]
    );
    // grouping by bin(TimeGenerated, 2m) names the column TimeGenerated; no alias shadowing
    assert_eq!(
        rows(
            "datatable(TimeGenerated:datetime, v:long)[datetime(2024-01-01 00:01:00), 1, datetime(2024-01-01 00:03:00), 2, datetime(2024-01-01 00:03:30), 4] \
             | summarize s = sum(v) by bin(TimeGenerated, 2m) | sort by TimeGenerated asc"
        )
        .await,
        ["2024-01-01T00:00:00Z|1", "2024-01-01T00:02:00Z|6"]
    );
}

#[tokio::test]
async fn aggregates() {
    // sum of nothing (only NULLs) is 0; default names count_, sum_x, dcount_x
    assert_eq!(rows("T | where s == 'b' | summarize sum(n)").await, ["0"]);
    assert_eq!(
        rows("datatable(x:long)[1, 2, 2] | summarize count(), sum(x), dcount(x) | getschema | project ColumnName").await,
        ["count_", "sum_x", "dcount_x"]
    );
    // a key computed from another key (grouped by that one, computed after): same answer
    assert_eq!(
        rows("datatable(h:string, b:long)['a.X.com', 1, 'b.x.com', 2, 'a.X.com', 3] | extend d = tolower(h) | summarize s = sum(b) by d, h | sort by h asc").await,
        ["a.x.com|a.X.com|4", "b.x.com|b.x.com|2"]
    );
    // dcount is exact here
    assert_eq!(
        rows("range x from 1 to 1000 step 1 | summarize d = dcount(x % 700)").await,
        ["700"]
    );
    // countif, sumif, make_set's cap
    assert_eq!(
        rows("range x from 1 to 10 step 1 | summarize c = countif(x > 7), s = sumif(x, x > 7), m = make_set(x, 4) | extend m = array_length(m)").await,
        ["3|27|4"]
    );
    // (a, b) = arg_max(x, y): a names the largest x, b the y of its row
    assert_eq!(
        rows("datatable(k:string, t:long, v:string)['a', 1, 'old', 'a', 5, 'new'] | summarize (mt, mv) = arg_max(t, v) by k | getschema | project ColumnName").await,
        ["k", "mt", "mv"]
    );
    // arg_max: the row with the largest value
    assert_eq!(
        rows("datatable(k:string, t:long, v:string)['a', 1, 'old', 'a', 5, 'new', 'b', 2, 'only'] | summarize arg_max(t, v) by k | sort by k asc").await,
        ["a|5|new", "b|2|only"]
    );
    // percentile is the nearest rank (a value of the set, never interpolated), NULLs skipped:
    // 10 20 30 40 -> p50 is rank ceil(0.5 * 4) = 2 -> 20 (SQL's percentile_cont says 25);
    // p0 is the least, p100 the largest; names percentile_x_50, .. _99_9; nothing gives NULL
    assert_eq!(
        rows("datatable(x:long)[40, 10, 30, 20] | union (print x = long(null)) | summarize percentile(x, 50), percentiles(x, 0, 99.9), (lo) = percentiles(x, 25)").await,
        ["20|10|40|10"]
    );
    assert_eq!(
        rows("datatable(x:long)[1] | summarize percentile(x, 50), percentiles(x, 0, 99.9) | getschema | project ColumnName").await,
        ["percentile_x_50", "percentile_x_0", "percentile_x_99_9"]
    );
    assert_eq!(
        rows("datatable(x:long)[] | summarize percentile(x, 50)").await,
        ["NULL"]
    );
}

#[tokio::test]
async fn arithmetic_and_literals() {
    // integer division stays integral (truncating), a real operand makes a real
    assert_eq!(
        rows("print a = 7 / 2, b = 7.0 / 2, c = -7 / 2, d = 7 % 3").await,
        ["3|3.5|-3|1"]
    );
    // timespan arithmetic: a timespan times or divided by a number is a timespan, one timespan
    // divided by another a real (minutes between two datetimes: (b - a) / 1m)
    assert_eq!(
        rows("print a = (datetime(2024-01-01 01:30) - datetime(2024-01-01)) / 1m, b = 2h / 1m, c = 1h * 3 == 3h, d = 1h / 4 == 15m, e = 1.5 * 1h == 90m, f = datetime(2018-01-01) + 2 * 1d").await,
        ["90.0|120.0|true|true|true|2018-01-03T00:00:00Z"]
    );
    // format_datetime: any number of fraction digits (the first k of the nanoseconds, not
    // rounded), a NULL datetime is ''
    assert_eq!(
        rows("print a = format_datetime(datetime(2017-01-29 09:00:05.123456), 'yy-MM-dd [HH:mm:ss.fffff]'), b = format_datetime(datetime(2017-01-29 09:00:05.1), 'f|ff|fffffff'), c = format_datetime(datetime(null), 'yyyy') == ''").await,
        ["17-01-29 [09:00:05.12345]|1|10|1000000|true"]
    );
    // bool literals in any of Kusto's casings (Sentinel's PortScan rule writes == False)
    assert_eq!(
        rows("print a = True, b = FALSE, c = true == TRUE").await,
        ["true|false|true"]
    );
    // datetime and timespan literals
    assert_eq!(
        rows("print t = datetime(2024-07-30) + 1d + 2h").await,
        ["2024-07-31T02:00:00Z"]
    );
    assert_eq!(
        rows("range x from 1 to 5 step 1 | where x between (2 .. 4) | count").await,
        ["3"]
    );
    assert_eq!(
        rows("range x from 1 to 5 step 1 | where x !between (2 .. 4) | count").await,
        ["2"]
    );
    // split of '' is one empty string
    assert_eq!(
        rows("print a = array_length(split('', ',')), b = array_length(split('a,b', ','))").await,
        ["1|2"]
    );
    assert_eq!(
        rows("print s = strcat('a', 1, true), l = strlen('héllo'), u = substring('abcdef', 1, 3)")
            .await,
        ["a1true|5|bcd"]
    );
}

#[tokio::test]
async fn dynamic_values() {
    // a property bag: members by .name or ['name'], arrays by [i] (negative from the end),
    // compared with strings as their text and with numbers as their number; a missing member
    // is null; array_length of what is not an array is null
    assert_eq!(
        rows("print d = dynamic({'a': 1, 'b': [1, 'x'], 'c': {'k': 'v'}}) | project a = d.a == 1, b = d.b[-1] == 'x', c = tostring(d['c'].k), m = isnull(d.nope), n = array_length(d.b), z = array_length(d.a)").await,
        ["true|true|v|true|2|NULL"]
    );
    // parse_json of text: JSON values; text that is not JSON stays a string
    assert_eq!(
        rows("print j = parse_json('{\"ip\": \"10.0.0.1\", \"port\": 3389}') | project ip = tostring(j.ip), port = toint(j.port) + 1, s = tostring(parse_json('plain'))").await,
        ["10.0.0.1|3390|plain"]
    );
    // a mixed array is dynamic: its length counts every kind (Microsoft's array_length example)
    assert_eq!(
        rows("print n = array_length(dynamic([1, 2, 3, 'four']))").await,
        ["4"]
    );
    // bag functions; bag_pack of columns keeps each value's kind (text a string, a number a
    // number, a datetime Kusto's text of it)
    assert_eq!(
        rows("datatable(h:string, p:long, t:datetime)['ws1', 22, datetime(2024-07-30 08:00)] | project b = bag_pack('host', h, 'port', p, 'at', t) | project k = tostring(bag_keys(b)), h = bag_has_key(b, 'port'), p = toint(b.port) + 1, t = tostring(b.at), r = tostring(bag_remove_keys(b, dynamic(['at', 'port']))), m = tostring(bag_merge(b, dynamic({'host': 'x', 'n': 1})).n)").await,
        ["[\"at\",\"host\",\"port\"]|true|23|2024-07-30T08:00:00.0000000Z|{\"host\":\"ws1\"}|1"]
    );
    // mv-expand of a bag: one member at a time
    assert_eq!(
        rows("print d = dynamic({'p1': 'a', 'p2': 'b'}) | mv-expand d | project tostring(d)").await,
        ["{\"p1\":\"a\"}", "{\"p2\":\"b\"}"]
    );
}

#[tokio::test]
async fn joins() {
    let l = "let L = datatable(k:long, a:string)[1, 'x', 1, 'y', 2, 'z'];";
    let r = "let R = datatable(k:long, b:string)[1, 'p', 1, 'q', 3, 'w'];";
    // innerunique (the default) keeps one left row per key: 1 x 2 right rows
    assert_eq!(
        rows(&format!("{l}{r} L | join R on k | count")).await,
        ["2"]
    );
    assert_eq!(
        rows(&format!("{l}{r} L | join kind=inner R on k | count")).await,
        ["4"]
    );
    // the right side's clashing names get a 1
    assert_eq!(
        rows(&format!(
            "{l}{r} L | join kind=inner R on k | getschema | project ColumnName"
        ))
        .await,
        ["k", "a", "k1", "b"]
    );
    assert_eq!(
        sorted(&format!("{l}{r} L | join kind=leftanti R on k")).await,
        ["2|z"]
    );
    assert_eq!(
        sorted(&format!(
            "{l}{r} L | join kind=leftouter R on $left.k == $right.k | where k == 2 | project a, b"
        ))
        .await,
        ["z|"]
    );
    // join ... where (Sentinel's port-misuse rules): every pair of rows the predicate holds
    // for; has is whole-term, so '3389' is not found in '33890,80'
    assert_eq!(
        sorted("datatable(p:long)[22, 3389] | join kind=inner (datatable(Ports:string, Name:string)['22,3389', 'a', '33890,80', 'b']) where Ports has tostring(p)").await,
        ["22|22,3389|a", "3389|22,3389|a"]
    );
    // lookup: left rows stay, the key once
    assert_eq!(
        sorted(&format!(
            "{l} let D = datatable(k:long, name:string)[1, 'one']; L | lookup D on k"
        ))
        .await,
        ["1|x|one", "1|y|one", "2|z|"]
    );
    // x !in (T) is an anti-join; a let-bound table works in place of T
    assert_eq!(
        sorted(&format!("{l}{r} L | where k !in (R | project k)")).await,
        ["2|z"]
    );
}

#[tokio::test]
async fn shaping_operators() {
    // extend replaces a column in place; project-away takes wildcards; project-rename
    assert_eq!(
        rows("print a = 1, b = 2, bc = 3 | extend a = a + 10 | project-away b* | project-rename z = a").await,
        ["11"]
    );
    assert_eq!(
        rows("print a = dynamic([1, 2, 3]) | mv-expand a | count").await,
        ["3"]
    );
    assert_eq!(
        rows("range x from 1 to 3 step 1 | sort by x asc | extend r = row_number(), p = prev(x)")
            .await,
        ["1|1|NULL", "2|2|1", "3|3|2"]
    );
    // mv-expand of several columns expands them side by side, the shorter padded with NULL;
    // with_itemindex numbers the items from 0; limit keeps the first N of each row
    assert_eq!(
        rows("print a = dynamic([1, 2, 3]), b = dynamic(['x', 'y']) | mv-expand with_itemindex=i a, b").await,
        ["1|x|0", "2|y|1", "3|NULL|2"]
    );
    assert_eq!(
        rows("print a = dynamic([1, 2, 3]) | mv-expand a limit 2 | project a").await,
        ["1", "2"]
    );
    // row_number(start, restart): numbering starts again where restart holds (here: where
    // the airport changes; prev() inside it is a window inside a window)
    assert_eq!(
        rows("datatable(a:string, d:long)['T', 1, 'T', 100, 'S', 1, 'S', 2, 'S', 0] | sort by a asc, d desc | extend r = row_number(1, prev(a) != a) | project a, d, r").await,
        ["S|2|1", "S|1|2", "S|0|3", "T|100|1", "T|1|2"]
    );
    // row_number(start) counts from start
    assert_eq!(
        rows("range x from 1 to 3 step 1 | sort by x asc | extend r = row_number(10) | project r")
            .await,
        ["10", "11", "12"]
    );
    // parse kind=relaxed: a value not of its type is NULL and the rest still parses (simple
    // would leave every column empty); a datetime may carry the line break flags=s took along
    assert_eq!(
        rows("print t = 'n=abc, m=7' | parse kind=relaxed t with 'n=' n:long ', m=' m:long | project n, m").await,
        ["NULL|7"]
    );
    assert_eq!(
        rows("print t = 'n=abc, m=7' | parse t with 'n=' n:long ', m=' m:long | project n, m")
            .await,
        ["NULL|NULL"]
    );
    assert_eq!(
        rows("print t = 'id=42, user=bob' | parse t with 'id=' id:long ', user=' user | project id, user").await,
        ["42|bob"]
    );
    assert_eq!(
        rows("datatable(a:long)[1, 1, 2] | distinct a | count").await,
        ["2"]
    );
    assert_eq!(
        rows("print x = toscalar(range y from 1 to 3 step 1 | summarize max(y))").await,
        ["3"]
    );
}

#[tokio::test]
async fn the_rest_of_the_scope() {
    // materialize: one table used twice
    assert_eq!(
        rows("let T = materialize(range x from 1 to 3 step 1); T | join kind=inner T on x | count")
            .await,
        ["3"]
    );
    // union isfuzzy=true: an operand that cannot be planned is left out
    assert_eq!(
        rows("union isfuzzy=true (print a = 1), NoSuchTable | count").await,
        ["1"]
    );
    // take, project-reorder (the named first, the rest after), project-keep with a wildcard
    assert_eq!(
        rows("range x from 1 to 10 step 1 | take 3 | count").await,
        ["3"]
    );
    assert_eq!(
        rows("print a = 1, b = 2, c = 3 | project-reorder c, a").await,
        ["3|1|2"]
    );
    assert_eq!(
        rows("print a = 1, b = 2, ab = 3 | project-keep a*").await,
        ["1|3"]
    );
    // case: the first condition that holds, else the last value
    assert_eq!(
        rows("range x from 1 to 3 step 1 | project c = case(x == 1, 'one', x == 2, 'two', 'many')")
            .await,
        ["one", "two", "many"]
    );
    // ipv4_is_private: RFC 1918 only (not loopback, not CGNAT); NULL for IPv6
    assert_eq!(
        rows("print a = ipv4_is_private('10.1.2.3'), b = ipv4_is_private('127.0.0.1'), c = isnull(ipv4_is_private('::1')), d = ipv4_is_private('100.64.0.1')").await,
        ["true|false|true|false"]
    );
    assert_eq!(
        rows("print a = ipv4_is_in_range('192.168.1.6', '192.168.1.1/24'), b = ipv4_is_in_any_range('10.0.0.1', dynamic(['192.168.0.0/16', '10.0.0.0/8'])), c = ipv4_is_in_range('192.168.2.6', '192.168.1.1/24')").await,
        ["true|true|false"]
    );
    // replace_string is not a regex; trim takes a regex of what to cut
    assert_eq!(
        rows("print a = replace_string('a.b.c', '.', '-'), b = trim('-+', '--x--'), c = 'abc123' matches regex '[0-9]+$'").await,
        ["a-b-c|x|true"]
    );
    // datetime_diff counts boundaries crossed: 09:59 to 10:00 is one hour
    assert_eq!(
        rows("print h = datetime_diff('hour', datetime(2024-01-01 10:00), datetime(2024-01-01 09:59)), r = round(2.567, 2), a = abs(-3)").await,
        ["1|2.57|3"]
    );
    // has_all: every term, whole terms
    assert_eq!(
        rows("print a = 'alpha beta gamma' has_all ('alpha', 'gamma'), b = 'alpha beta' has_all ('alpha', 'del')").await,
        ["true|false"]
    );
    // conversions: text that is not a number is null; todatetime reads ISO 8601
    assert_eq!(
        rows("print a = tolong('12') + 1, b = toreal('1.5') * 2, c = isnull(toint('abc')), d = todatetime('2024-07-30T08:00:00Z') == datetime(2024-07-30 08:00)").await,
        ["13|3.0|true|true"]
    );
    // avg of integers is real; make_list keeps duplicates in order; arg_min the least;
    // dcountif counts distinct values where the predicate holds
    assert_eq!(
        rows("datatable(k:string, x:long)['a', 3, 'a', 1, 'a', 3, 'a', 2] | summarize v = avg(x), l = make_list(x), (m, mk) = arg_min(x, k), d = dcountif(x, x > 1)").await,
        ["2.25|[3, 1, 3, 2]|1|a|2"]
    );
}
