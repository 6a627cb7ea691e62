//! Fetching a manifest and its parts over `http://` (a vendor's server, a firmware folder served
//! on the workshop network): one GET at a time, `Content-Length` or chunked bodies, up to three
//! redirects. `https://` is not built in: the words say what to do instead.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest body taken (a whole-flash image of 16 MB fits).
const MAX_BODY: usize = 32 << 20;

pub async fn get(url: &str) -> Result<Vec<u8>, String> {
    let mut url = url.to_string();
    for _ in 0..4 {
        match get_once(&url).await? {
            Fetched::Body(b) => return Ok(b),
            Fetched::Redirect(to) => url = crate::formats::manifest::resolve(&url, &to),
        }
    }
    Err(format!("{url}: too many redirects"))
}

enum Fetched {
    Body(Vec<u8>),
    Redirect(String),
}

async fn get_once(url: &str) -> Result<Fetched, String> {
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some(("https", _)) => {
            return Err(format!(
                "{url}: https is not built into the otaflash command line; download the manifest with its parts (or serve them over http on your network) and give the file or the http:// address"
            ))
        }
        _ => return Err(format!("{url}: not an http:// address")),
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let io = |e: std::io::Error| format!("{url}: {e}");
    let mut s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&addr))
        .await
        .map_err(|_| format!("{url}: no connection within 10 s"))?
        .map_err(io)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: otaflash\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.map_err(io)?;
    let mut raw = vec![];
    let read = async {
        let mut buf = vec![0u8; 65536];
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 || raw.len() > MAX_BODY + 65536 {
                return Ok::<_, std::io::Error>(());
            }
            raw.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .map_err(|_| format!("{url}: the server did not finish within 60 s"))?
        .map_err(io)?;
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{url}: not an HTTP answer"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let body = &raw[head_end + 4..];
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{url}: not an HTTP answer"))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    if (300..400).contains(&status) {
        if let Some(to) = header("location") {
            return Ok(Fetched::Redirect(to));
        }
    }
    if status != 200 {
        return Err(format!("{url}: the server answered {status}"));
    }
    let body = if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        dechunk(body).ok_or_else(|| format!("{url}: a broken chunked answer"))?
    } else {
        let len = header("content-length")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(body.len());
        if body.len() < len {
            return Err(format!(
                "{url}: the answer stopped after {} of {len} bytes",
                body.len()
            ));
        }
        body[..len].to_vec()
    };
    if body.len() > MAX_BODY {
        return Err(format!("{url}: larger than {} MB", MAX_BODY >> 20));
    }
    Ok(Fetched::Body(body))
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![];
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunked_bodies() {
        assert_eq!(
            super::dechunk(b"4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n\r\n").unwrap(),
            b"Wikipedia"
        );
        assert!(super::dechunk(b"9\r\nshort\r\n").is_none());
    }
}
