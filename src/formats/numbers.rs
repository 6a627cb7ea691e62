//! Integers as ESP-IDF's tools read and write them: `0x8000`, `32768`, `32K`, `4M`.

/// Parses like gen_esp32part.py's `parse_int`: Python `int(v, 0)` (decimal, `0x`, `0o`, `0b`,
/// optional sign, `_` separators) with an optional `k`/`K` (×1024) or `m`/`M` (×1 MiB) suffix.
pub fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    if let Some(head) = lower.strip_suffix('k') {
        return parse_int(head)?.checked_mul(1024);
    }
    if let Some(head) = lower.strip_suffix('m') {
        return parse_int(head)?.checked_mul(1024 * 1024);
    }
    // Also accept esptool-style "4MB"/"2KB" sizes.
    if let Some(head) = lower
        .strip_suffix("mb")
        .or_else(|| lower.strip_suffix("kb"))
    {
        let unit = if lower.ends_with("mb") {
            1 << 20
        } else {
            1 << 10
        };
        return parse_int(head)?.checked_mul(unit);
    }
    let (neg, body) = match lower.as_bytes().first()? {
        b'-' => (true, &lower[1..]),
        b'+' => (false, &lower[1..]),
        _ => (false, &lower[..]),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b") {
        (2, d)
    } else {
        // Python refuses "010" in base 0 (ambiguous octal); so do we.
        if body.len() > 1 && body.starts_with('0') && body.bytes().any(|b| b != b'0') {
            return None;
        }
        (10, body)
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let v = i64::from_str_radix(&digits.replace('_', ""), radix).ok()?;
    Some(if neg { -v } else { v })
}

/// A non-negative 32-bit quantity (an address or a size).
pub fn parse_u32(text: &str) -> Option<u32> {
    parse_int(text).and_then(|v| u32::try_from(v).ok())
}

/// For clap: parse an address or size, with a readable error.
pub fn parse_u32_arg(text: &str) -> Result<u32, String> {
    parse_u32(text)
        .ok_or_else(|| format!("'{text}' is not a number (use 0x8000, 32768, 32K or 4M)"))
}

/// Bytes from hex text (`01ab`, also with spaces or colons between bytes); None if not hex.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b':' | b'\t' | b'\n' | b'\r'))
        .collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(p[0])? * 16 + d(p[1])?) as u8)
        })
        .collect()
}

/// Human size: `4 MB`, `1280 KB`, `0x1a3f bytes`.
pub fn human_size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// `x` with `places` decimals, rounded ("12.3"), in integer arithmetic: the page carries no
/// float formatting code.
pub fn decimals(x: f64, places: u32) -> String {
    if !x.is_finite() {
        return "?".into();
    }
    let scale = 10u64.pow(places);
    let n = (x.abs() * scale as f64).round() as u64;
    let sign = if x < 0.0 && n > 0 { "-" } else { "" };
    match places {
        0 => format!("{sign}{n}"),
        p => format!(
            "{sign}{}.{:0width$}",
            n / scale,
            n % scale,
            width = p as usize
        ),
    }
}

/// A size to one decimal, for amounts that change (progress): `57.5 KB`, `1.2 MB`, `512 bytes`.
pub fn approx_size(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{} MB", decimals(n as f64 / (1u64 << 20) as f64, 1))
    } else if n >= 1 << 10 {
        format!("{} KB", decimals(n as f64 / 1024.0, 1))
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_python_int_base_0_with_suffixes() {
        assert_eq!(parse_int("0x9000"), Some(0x9000));
        assert_eq!(parse_int("  36864 "), Some(0x9000));
        assert_eq!(parse_int("1M"), Some(0x100000));
        assert_eq!(parse_int("1700K"), Some(1700 * 1024));
        assert_eq!(parse_int("0x10k"), Some(0x4000));
        assert_eq!(parse_int("-0x1000"), Some(-0x1000));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("4MB"), Some(4 << 20));
        assert_eq!(parse_int("010"), None);
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("nvs"), None);
        assert_eq!(parse_int("0x"), None);
        assert_eq!(parse_u32("-1"), None);
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(0x140000), "1280 KB");
        assert_eq!(human_size(4 << 20), "4 MB");
        assert_eq!(approx_size(58880), "57.5 KB");
        assert_eq!(approx_size(1_300_000), "1.2 MB");
        assert_eq!(approx_size(700), "700 bytes");
        assert_eq!(decimals(12.345, 1), "12.3");
        assert_eq!(decimals(0.04, 1), "0.0");
        assert_eq!(decimals(-2.5, 2), "-2.50");
        assert_eq!(decimals(752.4, 0), "752");
        assert_eq!(decimals(f64::NAN, 1), "?");
    }
}
