//! The emulator's side of the wire: cutting the byte stream into program
//! messages (a `\n` outside quotes and binary blocks ends one), and a message
//! into requests (`;`-separated) with their arguments (`,`-separated; quoted
//! strings and binary blocks kept whole).

use crate::scpi::ErrorEntry;
use crate::scpi::block;
use std::fmt;

/// One argument of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Text as sent (numbers, keywords, quoted strings with their quotes).
    Text(String),
    /// The data of a definite-length binary block.
    Block(Vec<u8>),
}

impl Arg {
    /// The argument as text, if it is text.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            Self::Block(_) => None,
        }
    }
}

/// One command of a program message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The header without a trailing `?`, as sent (`SOUR:FREQ`, `*IDN`).
    pub header: String,
    /// True for a query (`?`).
    pub query: bool,
    /// The arguments.
    pub args: Vec<Arg>,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)?;
        if self.query {
            f.write_str("?")?;
        }
        for (i, arg) in self.args.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { "," })?;
            match arg {
                Arg::Text(t) => f.write_str(t)?,
                Arg::Block(d) => write!(f, "<{} byte block>", d.len())?,
            }
        }
        Ok(())
    }
}

/// Where the top-level separators of `bytes` are: a step over quoted
/// strings and binary blocks. Returns `None` when a block is incomplete.
fn top_level(bytes: &[u8], mut on_byte: impl FnMut(usize, u8) -> bool) -> Option<()> {
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'#' => match block::parse_header(&bytes[i..]) {
                Ok(Some((header, len))) => {
                    if i + header + len > bytes.len() {
                        return None;
                    }
                    i += header + len;
                    continue;
                }
                Ok(None) => return None,
                // Not a block (e.g. `#H1F` hex numbers): an ordinary byte.
                Err(_) => {}
            },
            None => {
                if on_byte(i, b) {
                    return Some(());
                }
            }
        }
        i += 1;
    }
    Some(())
}

/// Removes and returns the first complete program message of `buf` (without
/// its `\n` or `\r\n`), or `None` while it is incomplete.
pub fn take_message(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut end = None;
    top_level(buf, |i, b| {
        if b == b'\n' {
            end = Some(i);
            true
        } else {
            false
        }
    })?;
    let end = end?;
    let mut message: Vec<u8> = buf.drain(..=end).collect();
    message.pop();
    if message.last() == Some(&b'\r') {
        message.pop();
    }
    Some(message)
}

fn split(bytes: &[u8], sep: u8) -> Vec<&[u8]> {
    let mut cuts = Vec::new();
    // A complete message has complete blocks, so the walk always finishes.
    let _ = top_level(bytes, |i, b| {
        if b == sep {
            cuts.push(i);
        }
        false
    });
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        parts.push(&bytes[start..cut]);
        start = cut + 1;
    }
    parts.push(&bytes[start..]);
    parts
}

fn parse_arg(bytes: &[u8]) -> Arg {
    let trimmed = bytes.trim_ascii();
    if let Ok(Some((header, len))) = block::parse_header(trimmed)
        && header + len == trimmed.len()
    {
        return Arg::Block(trimmed[header..].to_vec());
    }
    Arg::Text(String::from_utf8_lossy(trimmed).into_owned())
}

/// Splits a program message into requests.
pub fn parse_message(message: &[u8]) -> Result<Vec<Request>, ErrorEntry> {
    let mut requests = Vec::new();
    for unit in split(message, b';') {
        let unit = unit.trim_ascii_start();
        if unit.is_empty() {
            continue;
        }
        let header_end = unit.iter().position(u8::is_ascii_whitespace).unwrap_or(unit.len());
        let header = std::str::from_utf8(&unit[..header_end])
            .map_err(|_| ErrorEntry { code: -101, message: "Invalid character".into() })?;
        let (header, query) = match header.strip_suffix('?') {
            Some(h) => (h, true),
            None => (header, false),
        };
        let rest = unit[header_end..].trim_ascii();
        let args = if rest.is_empty() {
            Vec::new()
        } else {
            split(rest, b',').into_iter().map(parse_arg).collect()
        };
        requests.push(Request { header: header.to_owned(), query, args });
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_end_at_newlines_outside_blocks_and_quotes() {
        let mut buf = b"*IDN?\r\nMMEM:DATA 'a\nb',#13x\ny\nSYST:ERR?".to_vec();
        assert_eq!(take_message(&mut buf).unwrap(), b"*IDN?");
        assert_eq!(take_message(&mut buf).unwrap(), b"MMEM:DATA 'a\nb',#13x\ny");
        assert_eq!(take_message(&mut buf), None);
        buf.extend_from_slice(b"\n");
        assert_eq!(take_message(&mut buf).unwrap(), b"SYST:ERR?");
        assert!(buf.is_empty());
    }

    #[test]
    fn an_incomplete_block_waits_for_more_bytes() {
        let mut buf = b"MMEM:DATA 'f',#15ab\n".to_vec();
        assert_eq!(take_message(&mut buf), None);
        buf.extend_from_slice(b"c\n\n");
        assert_eq!(take_message(&mut buf).unwrap(), b"MMEM:DATA 'f',#15ab\nc\n");
    }

    #[test]
    fn requests_headers_and_arguments() {
        let r = parse_message(b"SOUR:FREQ 5e9;:OUTP ON; *OPC?").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0],
            Request {
                header: "SOUR:FREQ".into(),
                query: false,
                args: vec![Arg::Text("5e9".into())]
            }
        );
        assert_eq!(r[1].header, ":OUTP");
        assert_eq!(r[2], Request { header: "*OPC".into(), query: true, args: vec![] });
        let r = parse_message(b"MMEM:DATA 'x,y',#13a;b").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].args, vec![Arg::Text("'x,y'".into()), Arg::Block(b"a;b".to_vec())]);
        assert_eq!(r[0].to_string(), "MMEM:DATA 'x,y',<3 byte block>");
    }
}
