//! The hunting-query library: `.sql` files whose header (TOML inside SQL comments, between two
//! `-- ---` lines) carries the metadata and typed parameters. The SQL below the header is plain
//! DataFusion SQL with `$name` placeholders, so the file also runs in any DataFusion client that
//! registers `nethunt-udfs` and binds the defaults.
//!
//! The queries shipped in `queries/` are compiled into the binary; `--library DIR` adds files
//! (a file with the same name replaces the built-in one), and `run` also takes a path to a file.
//! Source parsers (`parsers/`, [`sources`]) are library files too.
//! Uses: `reference` (declared tables), `lake` (raw tables), `schema`, `error`.

pub mod params;
pub mod sources;

use std::path::{Path, PathBuf};

use datafusion::common::ScalarValue;

use crate::error::{Error, Result};
use crate::reference::{ColType, Column, ExternalTable, SourceFormat};
use params::ParamType;

/// The KQL queries of the repository's `queries/` folder, compiled in: the seed's two KQL
/// texts as published, under a header.
pub const BUILTIN_KQL: &[(&str, &str)] = &[
    (
        "non_standard_ports_kql",
        include_str!("../../queries/non_standard_ports_kql.kql"),
    ),
    (
        "uncommon_domains_kql",
        include_str!("../../queries/uncommon_domains_kql.kql"),
    ),
];

/// The SQL queries of the repository's `queries/` folder, compiled in.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "non_standard_ports",
        include_str!("../../queries/non_standard_ports.sql"),
    ),
    ("smb_anomaly", include_str!("../../queries/smb_anomaly.sql")),
    (
        "uncommon_domains",
        include_str!("../../queries/uncommon_domains.sql"),
    ),
    (
        "users_sharing_mac",
        include_str!("../../queries/users_sharing_mac.sql"),
    ),
    (
        "app_port_mismatch",
        include_str!("../../queries/app_port_mismatch.sql"),
    ),
    ("beacons", include_str!("../../queries/beacons.sql")),
    (
        "beaconing_sentinel",
        include_str!("../../queries/beaconing_sentinel.sql"),
    ),
    (
        "cleartext_auth_protocols",
        include_str!("../../queries/cleartext_auth_protocols.sql"),
    ),
    (
        "excessive_failed_connections",
        include_str!("../../queries/excessive_failed_connections.sql"),
    ),
    (
        "long_connections",
        include_str!("../../queries/long_connections.sql"),
    ),
    ("omi_ports", include_str!("../../queries/omi_ports.sql")),
    (
        "outbound_ldap",
        include_str!("../../queries/outbound_ldap.sql"),
    ),
    ("port_scan", include_str!("../../queries/port_scan.sql")),
    (
        "port_misuse_static",
        include_str!("../../queries/port_misuse_static.sql"),
    ),
    ("ti_map_ip", include_str!("../../queries/ti_map_ip.sql")),
    (
        "port_sweep_external",
        include_str!("../../queries/port_sweep_external.sql"),
    ),
    (
        "rdp_bruteforce",
        include_str!("../../queries/rdp_bruteforce.sql"),
    ),
    ("rdp_traffic", include_str!("../../queries/rdp_traffic.sql")),
];

#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub name: String,
    pub ty: ParamType,
    pub default: ScalarValue,
    /// The default as written in the header, for listings.
    pub default_text: String,
    pub doc: Option<String>,
}

#[derive(Debug, Clone)]
pub struct QueryMeta {
    pub id: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub mitre: Vec<String>,
    /// MITRE ATT&CK tactics, as Sentinel names them (`Discovery`, `CommandAndControl`, ...).
    pub tactics: Vec<String>,
    /// ASIM columns the query reads when the lake has them and takes as NULL when it has none
    /// (`SrcUsername` for the cleartext hunt): no "column is missing" error for those.
    pub optional_columns: Vec<String>,
    pub severity: String,
    pub source: Option<String>,
    pub reference: Option<String>,
    pub params: Vec<ParamSpec>,
    /// External tables the query reads (`[tables.NAME]`, like KQL externaldata).
    pub tables: Vec<ExternalTable>,
    /// DataFusion settings applied to this query only (`[settings]`), e.g. Parquet filter
    /// push-down where it pays.
    pub settings: Vec<(String, String)>,
}

/// The language a query is written in. The engine plans each through its own front-end; the
/// header, parameters, settings and window work the same for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Sql,
    /// KQL, planned by nethunt-kql; a query file's header is in `//` comments.
    Kql,
}

impl Language {
    /// The language of a query file, by its extension.
    pub fn of_file(path: &Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "sql" => Some(Language::Sql),
            "kql" => Some(Language::Kql),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::Sql => "sql",
            Language::Kql => "kql",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Query {
    pub meta: QueryMeta,
    pub language: Language,
    /// The whole file text (header included: it is SQL comments).
    pub text: String,
    /// Where it came from: `builtin:NAME` or a file path.
    pub origin: PathBuf,
}

const SEVERITIES: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

impl Query {
    /// Parse a query file. `origin` names it in errors; `stem` is the name it must declare.
    pub fn parse(text: &str, origin: &Path, stem: &str) -> Result<Query> {
        let err = |line: Option<usize>, msg: String| Error::QueryFile {
            path: origin.to_path_buf(),
            line,
            msg,
        };
        let (table, end) = header_table(text, origin)?;
        let lines: Vec<&str> = text.lines().collect();

        let get_str = |key: &str, required: bool| -> Result<Option<String>> {
            match table.get(key) {
                Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
                Some(other) => Err(err(
                    None,
                    format!("header field '{key}' must be a non-empty string, got {other}"),
                )),
                None if required => Err(err(None, format!("header field '{key}' is missing"))),
                None => Ok(None),
            }
        };
        let id = get_str("id", true)?.unwrap_or_default();
        let name = get_str("name", false)?.unwrap_or_else(|| stem.to_string());
        if name != stem {
            return Err(err(
                None,
                format!("header name '{name}' differs from the file name '{stem}'"),
            ));
        }
        if !params::is_identifier(&name) {
            return Err(err(
                None,
                format!("query name '{name}' must be an identifier ([A-Za-z_][A-Za-z0-9_]*)"),
            ));
        }
        let title = get_str("title", true)?.unwrap_or_default();
        let description = get_str("description", true)?.unwrap_or_default();
        let severity = get_str("severity", true)?
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !SEVERITIES.contains(&severity.as_str()) {
            return Err(err(
                None,
                format!(
                    "severity '{severity}' is not one of {}",
                    SEVERITIES.join(", ")
                ),
            ));
        }
        let mitre = string_list(
            &table,
            "mitre",
            is_mitre_id,
            "technique ids like \"T1046\"",
            "an array of technique ids",
        )
        .map_err(|m| err(None, m))?
        .ok_or_else(|| err(None, "header field 'mitre' is missing".into()))?;
        let tactics = string_list(
            &table,
            "tactics",
            |s| TACTICS.contains(&s),
            &format!(
                "MITRE ATT&CK tactics as Sentinel names them ({})",
                TACTICS.join(", ")
            ),
            "an array",
        )
        .map_err(|m| err(None, m))?
        .unwrap_or_default();
        let optional_columns = string_list(
            &table,
            "optional_columns",
            |s| crate::schema::family(s).is_some(),
            "ASIM column names",
            "an array",
        )
        .map_err(|m| err(None, m))?
        .unwrap_or_default();
        let source = get_str("source", false)?;
        let reference = get_str("reference", false)?;

        let mut params_out = Vec::new();
        match table.get("params") {
            None => {}
            Some(toml::Value::Table(ps)) => {
                for (pname, spec) in ps {
                    let perr = |msg: String| err(None, format!("parameter '{pname}': {msg}"));
                    if !params::is_identifier(pname) {
                        return Err(perr("name must be an identifier".into()));
                    }
                    let spec = spec.as_table().ok_or_else(|| {
                        perr("expected a table {type = ..., default = ...}".into())
                    })?;
                    let ty: ParamType = spec
                        .get("type")
                        .and_then(|v| v.as_str())
                        .ok_or_else(|| perr("missing 'type'".into()))?
                        .parse()
                        .map_err(perr)?;
                    let dv = spec
                        .get("default")
                        .ok_or_else(|| perr("missing 'default'".into()))?;
                    let default = params::from_toml(ty, dv).map_err(perr)?;
                    let doc = spec.get("doc").and_then(|v| v.as_str()).map(str::to_string);
                    for key in spec.keys() {
                        if !["type", "default", "doc"].contains(&key.as_str()) {
                            return Err(perr(format!(
                                "unknown key '{key}' (use type, default, doc)"
                            )));
                        }
                    }
                    params_out.push(ParamSpec {
                        name: pname.clone(),
                        ty,
                        default,
                        default_text: dv.to_string(),
                        doc,
                    });
                }
            }
            Some(other) => return Err(err(None, format!("params must be a table, got {other}"))),
        }
        let mut tables_out = Vec::new();
        match table.get("tables") {
            None => {}
            Some(toml::Value::Table(ts)) => {
                for (tname, spec) in ts {
                    let spec = spec.as_table().ok_or_else(|| {
                        err(
                            None,
                            format!(
                                "table '{tname}': expected a table {{url = ..., columns = [...]}}"
                            ),
                        )
                    })?;
                    if !params::is_identifier(tname) {
                        return Err(err(
                            None,
                            format!("table '{tname}': name must be an identifier"),
                        ));
                    }
                    let t = declared_table(tname, spec)
                        .map_err(|m| err(None, format!("table '{tname}': {m}")))?;
                    tables_out.push(t);
                }
            }
            Some(other) => return Err(err(None, format!("tables must be a table, got {other}"))),
        }
        let mut settings = Vec::new();
        match table.get("settings") {
            None => {}
            Some(toml::Value::Table(t)) => {
                for (k, v) in t {
                    if !k.starts_with("datafusion.") {
                        return Err(err(
                            None,
                            format!("setting '{k}': only datafusion.* settings are allowed"),
                        ));
                    }
                    let v = match v {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Boolean(b) => b.to_string(),
                        toml::Value::Integer(i) => i.to_string(),
                        other => {
                            return Err(err(
                                None,
                                format!("setting '{k}': {other} is not a string, bool or integer"),
                            ));
                        }
                    };
                    settings.push((k.clone(), v));
                }
            }
            Some(other) => return Err(err(None, format!("settings must be a table, got {other}"))),
        }
        const KNOWN: [&str; 14] = [
            "id",
            "name",
            "title",
            "description",
            "mitre",
            "tactics",
            "optional_columns",
            "severity",
            "source",
            "reference",
            "params",
            "tables",
            "settings",
            "tags",
        ];
        if let Some(k) = table.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(err(
                None,
                format!("unknown header field '{k}' (known: {})", KNOWN.join(", ")),
            ));
        }
        let body = lines[end + 1..].join("\n");
        if body.trim().is_empty() {
            return Err(err(Some(end + 2), "no query after the header".into()));
        }
        Ok(Query {
            meta: QueryMeta {
                id,
                name,
                title,
                description,
                mitre,
                tactics,
                optional_columns,
                severity,
                source,
                reference,
                params: params_out,
                tables: tables_out,
                settings,
            },
            language: Language::of_file(origin).unwrap_or(Language::Sql),
            text: text.to_string(),
            origin: origin.to_path_buf(),
        })
    }

    /// The `show` text: metadata, parameters with defaults, and the query itself.
    pub fn describe(&self) -> String {
        let m = &self.meta;
        let mut s = format!(
            "name:        {}\nid:          {}\ntitle:       {}\ndescription: {}\nmitre:       {}\ntactics:     {}\nseverity:    {}\n",
            m.name,
            m.id,
            m.title,
            m.description,
            m.mitre.join(", "),
            m.tactics.join(", "),
            m.severity
        );
        if let Some(src) = &m.source {
            s.push_str(&format!("source:      {src}\n"));
        }
        if let Some(r) = &m.reference {
            s.push_str(&format!("reference:   {r}\n"));
        }
        s.push_str(&format!("file:        {}\n", self.origin.display()));
        if m.params.is_empty() {
            s.push_str("parameters:  none\n");
        } else {
            s.push_str("parameters:\n");
            for p in &m.params {
                s.push_str(&format!(
                    "  {} ({}) = {}{}\n",
                    p.name,
                    p.ty.name(),
                    p.default_text,
                    p.doc.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
                ));
            }
        }
        s.push('\n');
        s.push_str(&self.text);
        if !self.text.ends_with('\n') {
            s.push('\n');
        }
        s
    }

    /// Parameter values: the declared defaults, overridden by `NAME=VALUE` assignments. Unknown
    /// names and values that do not parse as the declared type are errors naming the parameter.
    pub fn bind(&self, assignments: &[(String, String)]) -> Result<Vec<(String, ScalarValue)>> {
        let mut values: Vec<(String, ScalarValue)> = self
            .meta
            .params
            .iter()
            .map(|p| (p.name.clone(), p.default.clone()))
            .collect();
        for (name, text) in assignments {
            let Some(spec) = self.meta.params.iter().find(|p| &p.name == name) else {
                let known: Vec<&str> = self.meta.params.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::param(
                    name,
                    format!(
                        "unknown parameter for query {} (it takes: {})",
                        self.meta.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            };
            let v = params::parse_value(spec.ty, text).map_err(|m| Error::param(name, m))?;
            values
                .iter_mut()
                .find(|(n, _)| n == name)
                .expect("declared")
                .1 = v;
        }
        Ok(values)
    }
}

/// A `[tables.NAME]` header table: the source of a table the query reads, like KQL
/// `externaldata`.
fn declared_table(name: &str, t: &toml::Table) -> std::result::Result<ExternalTable, String> {
    let s = |k: &str| t.get(k).and_then(|v| v.as_str());
    for k in t.keys() {
        if ![
            "url",
            "format",
            "zip_pattern",
            "columns",
            "refresh",
            "example",
        ]
        .contains(&k.as_str())
        {
            return Err(format!(
                "unknown key '{k}' (use url, format, zip_pattern, columns, refresh, example)"
            ));
        }
    }
    let example = match s("example") {
        None => None,
        Some(e) if crate::lake::sample::example(e).is_some() => Some(e.to_string()),
        Some(e) => {
            return Err(format!(
                "example '{e}' is not a bundled table (bundled: {})",
                crate::lake::sample::EXAMPLES.join(", ")
            ));
        }
    };
    // A table with no public source (indicators, a watchlist) is the user's to give; its
    // bundled example stands in until they do.
    let url = match (s("url"), &example) {
        (Some(u), _) => u.to_string(),
        (None, Some(_)) => String::new(),
        (None, None) => {
            return Err("missing 'url' (or 'example', for a table the user gives)".into());
        }
    };
    let format = match s("format").unwrap_or("csv") {
        "csv" => SourceFormat::Csv,
        "parquet" => SourceFormat::Parquet,
        other => return Err(format!("format '{other}' is not csv or parquet")),
    };
    let columns = t
        .get("columns")
        .and_then(|v| v.as_array())
        .ok_or("missing 'columns' (an array of \"Name:type\")")?
        .iter()
        .map(|c| {
            let text = c
                .as_str()
                .ok_or_else(|| format!("column {c} is not a string"))?;
            let (n, ty) = text
                .split_once(':')
                .ok_or_else(|| format!("column '{text}' is not Name:type"))?;
            let ty = ColType::parse(ty).ok_or_else(|| {
                format!("column '{text}': type is not int, long, real, string, bool or datetime")
            })?;
            Ok(Column {
                name: n.trim().to_string(),
                ty,
            })
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    if columns.is_empty() {
        return Err("'columns' is empty".into());
    }
    let refresh = match s("refresh") {
        None => None,
        Some(r) => Some(std::time::Duration::from_nanos(
            params::parse_interval(r)? as u64
        )),
    };
    Ok(ExternalTable {
        name: name.to_string(),
        url,
        format,
        zip_pattern: s("zip_pattern").unwrap_or("*.csv").to_string(),
        columns,
        refresh,
        example,
    })
}

/// A header field holding a list of strings, each one `valid`: `None` when the field is absent;
/// the error names the field and says what its `entries` must be, or that it must be `list`.
pub(crate) fn string_list(
    table: &toml::Table,
    key: &str,
    valid: impl Fn(&str) -> bool,
    entries: &str,
    list: &str,
) -> std::result::Result<Option<Vec<String>>, String> {
    match table.get(key) {
        None => Ok(None),
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| valid(s))
                    .map(str::to_string)
                    .ok_or_else(|| format!("{key} entries are {entries}, got {v}"))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!("{key} must be {list}, got {other}")),
    }
}

/// The MITRE ATT&CK enterprise tactics, as Sentinel's `tactics` field names them.
pub const TACTICS: [&str; 14] = [
    "Reconnaissance",
    "ResourceDevelopment",
    "InitialAccess",
    "Execution",
    "Persistence",
    "PrivilegeEscalation",
    "DefenseEvasion",
    "CredentialAccess",
    "Discovery",
    "LateralMovement",
    "Collection",
    "CommandAndControl",
    "Exfiltration",
    "Impact",
];

fn is_mitre_id(s: &str) -> bool {
    // T1046, T1021.001, TA0007
    let rest = s.strip_prefix("TA").or_else(|| s.strip_prefix('T'));
    match rest {
        Some(r) => {
            let (main, sub) = r.split_once('.').unwrap_or((r, ""));
            main.len() == 4
                && main.bytes().all(|b| b.is_ascii_digit())
                && (sub.is_empty() || (sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit())))
        }
        None => false,
    }
}

/// The TOML header of a library file (query or source parser): the SQL comment lines between the
/// first two `-- ---` lines, parsed; with the index of the closing line.
pub(crate) fn header_table(text: &str, origin: &Path) -> Result<(toml::Table, usize)> {
    let err = |line: Option<usize>, msg: String| Error::QueryFile {
        path: origin.to_path_buf(),
        line,
        msg,
    };
    // Locate the header: the first non-blank line must be `-- ---`.
    let lines: Vec<&str> = text.lines().collect();
    let first = lines
        .iter()
        .position(|l| !l.trim().is_empty())
        .ok_or_else(|| err(None, "empty file".into()))?;
    // SQL files comment their header with `--`, KQL files with `//`.
    let marker = match lines[first].trim() {
        "-- ---" => "--",
        "// ---" => "//",
        _ => {
            return Err(err(
                Some(first + 1),
                "a query file starts with a metadata header between two '-- ---' lines ('// ---' in a .kql file)".into(),
            ));
        }
    };
    let fence = format!("{marker} ---");
    let mut toml_text = String::new();
    let mut end = None;
    for (i, l) in lines.iter().enumerate().skip(first + 1) {
        let t = l.trim_start();
        if t.trim_end() == fence {
            end = Some(i);
            break;
        }
        let Some(body) = t.strip_prefix(marker) else {
            return Err(err(
                Some(i + 1),
                format!(
                    "header lines must be comments ('{marker} ...') until the closing '{fence}'"
                ),
            ));
        };
        toml_text.push_str(body.strip_prefix(' ').unwrap_or(body));
        toml_text.push('\n');
    }
    let end = end.ok_or_else(|| {
        err(
            Some(first + 1),
            format!("header is not closed by '{fence}'"),
        )
    })?;
    let header_line = |offset: usize| -> usize {
        // byte offset in toml_text -> file line
        first
            + 2
            + toml_text[..offset.min(toml_text.len())]
                .matches('\n')
                .count()
    };
    let table: toml::Table = toml_text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| header_line(s.start));
        err(line, format!("header: {}", e.message()))
    })?;

    Ok((table, end))
}

/// What `queries` lists: every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A technique; a parent (T1021) also matches its sub-techniques (T1021.001).
    pub mitre: Option<String>,
    pub tactic: Option<String>,
    /// The least severity.
    pub severity: Option<String>,
    /// Text in the name, title or description, any case.
    pub search: Option<String>,
}

impl Filter {
    pub fn keeps(&self, m: &QueryMeta) -> Result<bool> {
        if let Some(t) = &self.mitre {
            let t = t.to_ascii_uppercase();
            if !m.mitre.iter().any(|x| {
                *x == t
                    || x.strip_prefix(t.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            }) {
                return Ok(false);
            }
        }
        if let Some(t) = &self.tactic
            && !m.tactics.iter().any(|x| x.eq_ignore_ascii_case(t))
        {
            if !TACTICS.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                return Err(Error::Config(format!(
                    "--tactic {t}: not a MITRE ATT&CK tactic ({})",
                    TACTICS.join(", ")
                )));
            }
            return Ok(false);
        }
        if let Some(level) = &self.severity {
            let rank = |s: &str| SEVERITIES.iter().position(|x| x.eq_ignore_ascii_case(s));
            let Some(least) = rank(level) else {
                return Err(Error::Config(format!(
                    "--severity {level}: not one of {}",
                    SEVERITIES.join(", ")
                )));
            };
            if rank(&m.severity).is_none_or(|r| r < least) {
                return Ok(false);
            }
        }
        if let Some(text) = &self.search {
            let text = text.to_lowercase();
            if ![&m.name, &m.title, &m.description]
                .iter()
                .any(|f| f.to_lowercase().contains(&text))
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The set of queries available to `run`, `queries` and `show`.
#[derive(Debug, Clone)]
pub struct Library {
    pub queries: Vec<Query>,
}

impl Library {
    /// The built-in queries plus every `*.sql` in `dir` (which replace built-ins of the same name).
    pub fn load(dir: Option<&Path>) -> Result<Library> {
        let mut queries = Vec::new();
        for (name, text) in BUILTIN {
            queries.push(Query::parse(
                text,
                &PathBuf::from(format!("builtin:queries/{name}.sql")),
                name,
            )?);
        }
        for (name, text) in BUILTIN_KQL {
            queries.push(Query::parse(
                text,
                &PathBuf::from(format!("builtin:queries/{name}.kql")),
                name,
            )?);
        }
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir).map_err(|e| Error::Io {
                path: dir.to_path_buf(),
                source: e,
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| Language::of_file(p).is_some())
                .collect();
            files.sort();
            for f in files {
                let q = Self::read_file(&f)?;
                queries.retain(|old| old.meta.name != q.meta.name);
                queries.push(q);
            }
        }
        queries.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        Ok(Library { queries })
    }

    /// The `queries` listing of the queries `filter` keeps: name, title, MITRE, tactics,
    /// severity, parameters.
    pub fn listing(&self, filter: &Filter) -> Result<String> {
        let mut s = String::new();
        for q in &self.queries {
            if !filter.keeps(&q.meta)? {
                continue;
            }
            let m = &q.meta;
            s.push_str(&format!("{}\n", m.name));
            s.push_str(&format!(
                "    {} [{}] severity {}\n",
                m.title,
                m.mitre.join(", "),
                m.severity
            ));
            if !m.tactics.is_empty() {
                s.push_str(&format!("    tactics: {}\n", m.tactics.join(", ")));
            }
            for p in &m.params {
                s.push_str(&format!(
                    "    --param {}=<{}> (default {})\n",
                    p.name,
                    p.ty.name(),
                    p.default_text
                ));
            }
        }
        Ok(s)
    }

    /// Read one query file from disk.
    pub fn read_file(path: &Path) -> Result<Query> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| Error::Config(format!("{}: not a query file name", path.display())))?;
        Query::parse(&text, path, stem)
    }

    /// A query by name, or by path when the argument names a `.sql` file.
    pub fn get(&self, name_or_path: &str) -> Result<Query> {
        if Language::of_file(Path::new(name_or_path)).is_some()
            || name_or_path.contains(std::path::MAIN_SEPARATOR)
        {
            return Self::read_file(Path::new(name_or_path));
        }
        self.queries
            .iter()
            .find(|q| q.meta.name == name_or_path)
            .cloned()
            .ok_or_else(|| Error::UnknownQuery {
                name: name_or_path.to_string(),
                known: self.queries.iter().map(|q| q.meta.name.clone()).collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "-- ---\n-- id = \"x\"\n-- title = \"T\"\n-- description = \"D\"\n-- mitre = [\"T1046\"]\n-- severity = \"low\"\n-- [params.n]\n-- type = \"int\"\n-- default = 5\n-- ---\nSELECT $n\n";

    fn parse(text: &str) -> Result<Query> {
        Query::parse(text, Path::new("q.sql"), "q")
    }

    #[test]
    fn parses_header_and_binds() {
        let q = parse(GOOD).unwrap();
        assert_eq!(q.meta.name, "q");
        assert_eq!(q.meta.params[0].default, ScalarValue::Int64(Some(5)));
        let v = q.bind(&[("n".into(), "7".into())]).unwrap();
        assert_eq!(v[0].1, ScalarValue::Int64(Some(7)));
        let e = q.bind(&[("m".into(), "7".into())]).unwrap_err().to_string();
        assert!(e.contains("'m'") && e.contains("unknown parameter"), "{e}");
        let e = q
            .bind(&[("n".into(), "seven".into())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'n'") && e.contains("integer"), "{e}");
    }

    #[test]
    fn header_errors_name_the_line() {
        let e = parse(&GOOD.replace("default = 5", "default = "))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("q.sql:9: header"), "{e}");
        let e = parse(&GOOD.replace("\"T1046\"", "\"recon\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mitre"), "{e}");
        let e = parse(&GOOD.replace("-- severity = \"low\"\n", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("severity"), "{e}");
        let e = parse("SELECT 1").unwrap_err().to_string();
        assert!(e.starts_with("q.sql:1:"), "{e}");
        let e = parse(&GOOD.replace("type = \"int\"", "type = \"integer\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown parameter type 'integer'"), "{e}");
        let e = parse(&GOOD.replace("default = 5", "default = \"5\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("parameter 'n'"), "{e}");
    }

    #[test]
    fn header_tables() {
        let t: toml::Table = "url = \"http://x/y.zip\"\ncolumns = [\"Position:int\", \"Domain:string\"]\nrefresh = \"1d\"".parse().unwrap();
        let e = declared_table("top1m", &t).unwrap();
        assert_eq!(e.columns, ExternalTable::top1m("u").columns);
        assert_eq!(e.refresh, Some(std::time::Duration::from_secs(86_400)));
        let t: toml::Table = "url = \"u\"\ncolumns = [\"Position:integer\"]"
            .parse()
            .unwrap();
        assert!(declared_table("t", &t).unwrap_err().contains("type"));
        // A table the user gives: a bundled example instead of a URL, and datetime columns
        let t: toml::Table =
            "example = \"port_monitor\"\ncolumns = [\"Ports:string\", \"Seen:datetime\"]"
                .parse()
                .unwrap();
        let e = declared_table("port_monitor", &t).unwrap();
        assert_eq!(
            (e.url.as_str(), e.example.as_deref()),
            ("", Some("port_monitor"))
        );
        assert_eq!(e.columns[1].ty, ColType::DateTime);
        let t: toml::Table = "example = \"nope\"\ncolumns = [\"A:string\"]"
            .parse()
            .unwrap();
        let err = declared_table("t", &t).unwrap_err();
        assert!(
            err.contains("'nope'") && err.contains("ti_indicators"),
            "{err}"
        );
        let t: toml::Table = "columns = [\"A:string\"]".parse().unwrap();
        assert!(
            declared_table("t", &t)
                .unwrap_err()
                .contains("missing 'url'")
        );
    }
    #[test]
    fn builtins_parse() {
        let lib = Library::load(None).unwrap();
        assert_eq!(lib.queries.len(), BUILTIN.len() + BUILTIN_KQL.len());
        assert!(
            lib.get("nope")
                .unwrap_err()
                .to_string()
                .contains("non_standard_ports")
        );
    }
}
