//! A small JSON reader (RFC 8259) for the few JSON files otaflash reads — ESP Web Tools
//! manifests and esptool's stub files — the same code on the page and the command line, with no
//! JSON library in the page.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// The member `key` of an object (None for anything else, or when absent).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    depth: usize,
}

/// Parses JSON text. Errors say where ("line 3, column 7: …").
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut r = Reader {
        b: text.trim_start_matches('\u{feff}').as_bytes(),
        at: 0,
        depth: 0,
    };
    let v = r.value()?;
    r.space();
    if r.at != r.b.len() {
        return Err(r.error("more text after the end of the JSON value"));
    }
    Ok(v)
}

/// Why the text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
    pub what: String,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.what
        )
    }
}

impl Reader<'_> {
    fn error(&self, what: &str) -> JsonError {
        let before = &self.b[..self.at.min(self.b.len())];
        JsonError {
            line: before.iter().filter(|&&c| c == b'\n').count() + 1,
            column: before.iter().rev().take_while(|&&c| c != b'\n').count() + 1,
            what: what.to_string(),
        }
    }

    fn space(&mut self) {
        while self.at < self.b.len() && matches!(self.b[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        self.space();
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", c as char)))
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value, JsonError> {
        if self.b[self.at..].starts_with(w.as_bytes()) {
            self.at += w.len();
            Ok(v)
        } else {
            Err(self.error("not a JSON value"))
        }
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        self.space();
        match self.peek() {
            None => Err(self.error("the text ends where a value should be")),
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => Err(self.error("not a JSON value")),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Value, JsonError>) -> Result<Value, JsonError> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(self.error("nested too deeply"));
        }
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.at += 1;
        let mut m = BTreeMap::new();
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(m));
        }
        loop {
            self.space();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name in double quotes"));
            }
            let k = self.string()?;
            self.expect(b':')?;
            let v = self.value()?;
            m.insert(k, v);
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(m));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.at += 1;
        let mut a = vec![];
        self.space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(a));
        }
        loop {
            a.push(self.value()?);
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(a));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let h = self
            .b
            .get(self.at..self.at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.error("bad \\u escape"))?;
        self.at += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1;
        let mut out: Vec<u8> = vec![];
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("the text ends inside a string"));
            };
            self.at += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|_| self.error("not UTF-8 text")),
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.error("bad escape"))?;
                    self.at += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.b[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000
                                    + ((cp - 0xD800) << 10)
                                    + (lo.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            char::from_u32(cp).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(self.error("bad escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.error("a control character inside a string")),
                c => out.push(c),
            }
        }
    }

    /// A JSON number, read digit by digit (no float parser in the page; exact for the
    /// integers manifests and stubs hold).
    fn number(&mut self) -> Result<Value, JsonError> {
        let digits = |r: &mut Self| -> (f64, u32) {
            let (mut v, mut n) = (0f64, 0);
            while let Some(d) = r.peek().filter(u8::is_ascii_digit) {
                v = v * 10.0 + (d - b'0') as f64;
                n += 1;
                r.at += 1;
            }
            (v, n)
        };
        let neg = self.peek() == Some(b'-');
        if neg {
            self.at += 1;
        }
        let (mut v, n) = digits(self);
        if n == 0 {
            return Err(self.error("not a number"));
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            let (f, k) = digits(self);
            if k == 0 {
                return Err(self.error("not a number"));
            }
            v += f / 10f64.powi(k as i32);
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            let sign = match self.peek() {
                Some(b'-') => {
                    self.at += 1;
                    -1
                }
                Some(b'+') => {
                    self.at += 1;
                    1
                }
                _ => 1,
            };
            let (e, k) = digits(self);
            if k == 0 {
                return Err(self.error("not a number"));
            }
            v *= 10f64.powi(sign * e as i32);
        }
        Ok(Value::Number(if neg { -v } else { v }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_manifests_and_stubs_hold() {
        let v = parse(
            r#" { "name": "x \"quoted\" \u00e9 \ud83d\ude00", "n": -12.5e1, "ok": true, "none": null,
                 "builds": [ { "chipFamily": "ESP32", "parts": [ { "path": "a.bin", "offset": 4096 } ] }, [] ] } "#,
        )
        .unwrap();
        assert_eq!(v.get("name").unwrap().as_str(), Some("x \"quoted\" é 😀"));
        assert_eq!(v.get("n").unwrap().as_f64(), Some(-125.0));
        assert_eq!(v.get("ok").unwrap().as_bool(), Some(true));
        assert_eq!(v.get("none"), Some(&Value::Null));
        let b = &v.get("builds").unwrap().as_array().unwrap()[0];
        let part = &b.get("parts").unwrap().as_array().unwrap()[0];
        assert_eq!(part.get("offset").unwrap().as_f64(), Some(4096.0));
    }

    #[test]
    fn bad_json_says_where() {
        let e = parse("{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert_eq!((e.line, e.column), (3, 7), "{e}");
        assert!(
            e.to_string().starts_with("line 3, column 7: expected ':'"),
            "{e}"
        );
        assert!(parse("[1, 2").is_err());
        assert!(parse("{} x").is_err());
        assert!(parse("\"a\nb\"").is_err());
        assert!(parse(&"[".repeat(100)).is_err());
        assert!(parse("").is_err());
    }
}
