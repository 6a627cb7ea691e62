//! The generator's CSV (`key,type,encoding,value`, as `nvs_partition_gen.py` reads it with
//! Python's `csv.DictReader`: a header row, `#` lines skipped, quoted fields), and turning
//! decoded entries back into rows.

use super::{Entry, Row, RowKind, Value};

/// Splits CSV text into records of fields (RFC 4180 quoting: `"a, b"`, `""` for a quote).
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut out = vec![];
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start_line = line;
        // A line starting with '#' is dropped before the CSV reader sees it.
        if chars.peek() == Some(&'#') {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            line += 1;
            continue;
        }
        let mut fields = vec![];
        let mut field = String::new();
        let mut quoted = false;
        let mut was_quoted = false;
        loop {
            match chars.next() {
                None => {
                    if quoted {
                        return Err(format!("line {start_line}: a quoted field is not closed"));
                    }
                    break;
                }
                Some('"') if quoted => {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                }
                Some('"') if field.is_empty() && !was_quoted => {
                    quoted = true;
                    was_quoted = true;
                }
                Some('\n') if quoted => {
                    line += 1;
                    field.push('\n');
                }
                Some(',') if !quoted => {
                    fields.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                Some('\r') if !quoted && chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    break;
                }
                Some(c) => field.push(c),
            }
        }
        fields.push(field);
        // An empty line is no record.
        if !(fields.len() == 1 && fields[0].is_empty()) {
            out.push((start_line, fields));
        }
    }
    Ok(out)
}

/// The rows of a generator CSV. `file` reads a `file` row's value (a path, relative to where
/// the CSV is); the page passes one that refuses.
pub fn rows_from_csv(
    text: &str,
    file: &dyn Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<Row>, String> {
    let recs = records(text)?;
    let Some((_, head)) = recs.first() else {
        return Err("the CSV is empty (it needs the header key,type,encoding,value)".into());
    };
    let col = |name: &str| head.iter().position(|h| h == name);
    let (Some(k), Some(t), Some(e), Some(v)) =
        (col("key"), col("type"), col("encoding"), col("value"))
    else {
        return Err(format!(
            "the first row must be the header key,type,encoding,value (it is: {})",
            head.join(",")
        ));
    };
    let mut rows = vec![];
    for (line, f) in &recs[1..] {
        let get = |i: usize| f.get(i).cloned().unwrap_or_default();
        let key = get(k);
        let kind = match get(t).as_str() {
            "namespace" => RowKind::Namespace,
            "data" => RowKind::Data,
            "file" => RowKind::File,
            other => {
                return Err(format!(
                    "line {line}: type '{other}' for '{key}' (namespace, data or file)"
                ))
            }
        };
        let value = match kind {
            RowKind::File => file(&get(v)).map_err(|m| format!("line {line}: {m}"))?,
            _ => get(v).into_bytes(),
        };
        rows.push(Row {
            key,
            kind,
            encoding: get(e),
            value,
        });
    }
    Ok(rows)
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with('#') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The generator encoding that stores `value` as it is.
fn encoding(value: &Value) -> &'static str {
    match value {
        Value::Str(_) => "string",
        Value::Blob(_) => "hex2bin",
        v => v.type_name(),
    }
}

/// The entries in the order an image made from them decodes: namespace by namespace (in the
/// order first seen), keys in their order.
pub fn grouped(entries: &[Entry]) -> Vec<Entry> {
    let mut order: Vec<&str> = vec![];
    for e in entries {
        if !order.contains(&e.namespace.as_str()) {
            order.push(&e.namespace);
        }
    }
    order
        .into_iter()
        .flat_map(|ns| entries.iter().filter(move |e| e.namespace == ns).cloned())
        .collect()
}

/// Rows that make these entries again: each namespace once (in the order first seen), its keys
/// after it. (The generator puts a key after a repeated namespace row into the newest
/// namespace, so namespaces must not repeat.)
pub fn rows_for(entries: &[Entry]) -> Vec<Row> {
    let mut rows = vec![];
    let mut ns: Option<&str> = None;
    let grouped = grouped(entries);
    for e in &grouped {
        if ns != Some(e.namespace.as_str()) {
            rows.push(Row::namespace(&e.namespace));
            ns = Some(&e.namespace);
        }
        rows.push(Row::data(&e.key, encoding(&e.value), &e.value.text()));
    }
    rows
}

/// The entries as a generator CSV.
pub fn to_csv(entries: &[Entry]) -> String {
    let mut out = String::from("key,type,encoding,value\n");
    for r in rows_for(entries) {
        match r.kind {
            RowKind::Namespace => out.push_str(&format!("{},namespace,,\n", quote(&r.key))),
            _ => out.push_str(&format!(
                "{},data,{},{}\n",
                quote(&r.key),
                r.encoding,
                quote(&String::from_utf8_lossy(&r.value))
            )),
        }
    }
    out
}

/// Sets `namespace/key` to `value` (replacing it where it is, or adding it at the end of its
/// namespace, or a new namespace at the end).
pub fn set(entries: &mut Vec<Entry>, namespace: &str, key: &str, value: Value) {
    if let Some(e) = entries
        .iter_mut()
        .find(|e| e.namespace == namespace && e.key == key)
    {
        e.value = value;
        return;
    }
    let at = entries
        .iter()
        .rposition(|e| e.namespace == namespace)
        .map_or(entries.len(), |i| i + 1);
    entries.insert(
        at,
        Entry {
            namespace: namespace.into(),
            key: key.into(),
            value,
        },
    );
}

/// Removes `namespace/key`; false if it was not there.
pub fn delete(entries: &mut Vec<Entry>, namespace: &str, key: &str) -> bool {
    let n = entries.len();
    entries.retain(|e| !(e.namespace == namespace && e.key == key));
    entries.len() != n
}
