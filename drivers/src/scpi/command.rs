//! Wire commands as typed values, and the IEEE 488.2 / SCPI commands every
//! instrument has.
//!
//! A command encodes its own text and parses its own reply, so a driver is a
//! list of commands and each command is tested on its own: what it sends for
//! given arguments, what it makes of a given reply.

use crate::error::{DriverError, ErrorKind};
use crate::scpi::block;
use eigen_hal::instrument::Identity;
use std::fmt;

/// What follows a command on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyShape {
    /// Nothing: a setting command.
    None,
    /// One line of text.
    Line,
    /// An IEEE 488.2 definite-length block.
    Block,
}

/// One SCPI command.
pub trait Command {
    /// What the reply means.
    type Reply;

    /// Appends the command's bytes (no terminator) to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// What the instrument sends back.
    fn reply_shape(&self) -> ReplyShape;

    /// Parses the reply (empty for [`ReplyShape::None`]; the block's data for
    /// [`ReplyShape::Block`]).
    fn parse(&self, reply: &[u8]) -> Result<Self::Reply, DriverError>;

    /// The command's bytes as they go on the wire (no terminator): for logs
    /// and tests.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Implements [`Command`] for a setting: the body writes the command's text
/// into `out`; the instrument sends nothing back.
macro_rules! setting {
    ($ty:ty, |$s:ident, $out:ident| $body:block) => {
        impl $crate::scpi::command::Command for $ty {
            type Reply = ();
            fn encode(&self, $out: &mut Vec<u8>) {
                let $s = self;
                $body
            }
            fn reply_shape(&self) -> $crate::scpi::command::ReplyShape {
                $crate::scpi::command::ReplyShape::None
            }
            fn parse(&self, _reply: &[u8]) -> Result<(), $crate::error::DriverError> {
                Ok(())
            }
        }
    };
}

/// Implements [`Command`] for a query answered by one line: the body writes
/// the query's text into `out`, `$parse` turns the line into a `$reply`.
macro_rules! query {
    ($ty:ty => $reply:ty, |$s:ident, $out:ident| $body:block, $parse:expr) => {
        impl $crate::scpi::command::Command for $ty {
            type Reply = $reply;
            fn encode(&self, $out: &mut Vec<u8>) {
                let $s = self;
                $body
            }
            fn reply_shape(&self) -> $crate::scpi::command::ReplyShape {
                $crate::scpi::command::ReplyShape::Line
            }
            fn parse(&self, reply: &[u8]) -> Result<$reply, $crate::error::DriverError> {
                $parse(reply)
            }
        }
    };
}

pub(crate) use {query, setting};

/// A `Protocol` error for a reply that does not parse.
pub fn bad_reply(expected: &str, reply: &[u8]) -> DriverError {
    DriverError::new(
        ErrorKind::Protocol,
        format!("expected {expected}, got {:?}", String::from_utf8_lossy(reply)),
    )
}

/// Parses a reply that is one number (NR1/NR2/NR3: `5`, `-3.5`, `5.1E+09`).
pub fn parse_number(reply: &[u8]) -> Result<f64, DriverError> {
    std::str::from_utf8(reply)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| bad_reply("a number", reply))
}

/// Parses a boolean reply (`1`/`0`, `ON`/`OFF`).
pub fn parse_bool(reply: &[u8]) -> Result<bool, DriverError> {
    match reply.trim_ascii().to_ascii_uppercase().as_slice() {
        b"1" | b"ON" => Ok(true),
        b"0" | b"OFF" => Ok(false),
        _ => Err(bad_reply("1, 0, ON or OFF", reply)),
    }
}

/// `*IDN?`: who the instrument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idn;

impl Command for Idn {
    type Reply = Identity;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"*IDN?");
    }

    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::Line
    }

    /// `<vendor>,<model>,<serial>,<firmware>` (IEEE 488.2 §10.14).
    fn parse(&self, reply: &[u8]) -> Result<Identity, DriverError> {
        let text = std::str::from_utf8(reply).map_err(|_| bad_reply("ASCII text", reply))?;
        let fields: Vec<&str> = text.trim().splitn(4, ',').map(str::trim).collect();
        match fields.as_slice() {
            [vendor, model, serial, firmware] if !vendor.is_empty() && !model.is_empty() => {
                Ok(Identity {
                    vendor: (*vendor).to_owned(),
                    model: (*model).to_owned(),
                    serial: (*serial).to_owned(),
                    firmware: (*firmware).to_owned(),
                })
            }
            _ => Err(bad_reply("`vendor,model,serial,firmware`", reply)),
        }
    }
}

/// A command without arguments or reply (`*RST`, `*CLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simple(pub &'static str);

/// `*RST`: back to the power-on state.
pub const RST: Simple = Simple("*RST");
/// `*CLS`: clears the status registers and the error queue.
pub const CLS: Simple = Simple("*CLS");

impl Command for Simple {
    type Reply = ();

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }

    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::None
    }

    fn parse(&self, _reply: &[u8]) -> Result<(), DriverError> {
        Ok(())
    }
}

/// `*OPC?`: waits until every pending operation is complete (the reply `1`
/// comes only then), so it sequences settings that take time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opc;

impl Command for Opc {
    type Reply = ();

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"*OPC?");
    }

    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::Line
    }

    fn parse(&self, reply: &[u8]) -> Result<(), DriverError> {
        if reply.trim_ascii() == b"1" { Ok(()) } else { Err(bad_reply("1", reply)) }
    }
}

/// One entry of the SCPI error queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorEntry {
    /// The SCPI error code (0: no error; negative: standard; positive:
    /// device-specific).
    pub code: i32,
    /// The instrument's description.
    pub message: String,
}

impl fmt::Display for ErrorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},\"{}\"", self.code, self.message)
    }
}

/// `SYST:ERR?`: the oldest entry of the error queue (`0,"No error"` when
/// empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystErr;

impl Command for SystErr {
    type Reply = ErrorEntry;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SYST:ERR?");
    }

    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::Line
    }

    /// `<code>,"<message>"`; the message may itself contain commas and
    /// `;`-separated device detail.
    fn parse(&self, reply: &[u8]) -> Result<ErrorEntry, DriverError> {
        let text = std::str::from_utf8(reply).map_err(|_| bad_reply("ASCII text", reply))?;
        let (code, message) = text
            .trim()
            .split_once(',')
            .ok_or_else(|| bad_reply("`<code>,\"<message>\"`", reply))?;
        let code = code.trim().parse().map_err(|_| bad_reply("`<code>,\"<message>\"`", reply))?;
        let message = message.trim();
        let message =
            message.strip_prefix('"').and_then(|m| m.strip_suffix('"')).unwrap_or(message);
        Ok(ErrorEntry { code, message: message.to_owned() })
    }
}

/// Refuses file names the SCPI string syntax cannot carry.
fn check_file_name(name: &str) -> Result<(), DriverError> {
    if name.is_empty() || name.contains(['\'', '"', '\n', '\r']) {
        return Err(DriverError::new(
            ErrorKind::OutOfRange,
            format!("file name {name:?} must be non-empty without quotes or line breaks"),
        ));
    }
    Ok(())
}

/// `MMEM:DATA '<name>',<block>`: stores `data` as a file on the instrument
/// (SCPI-99 MMEMory:DATA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmemData {
    name: String,
    data: Vec<u8>,
}

impl MmemData {
    /// The command storing `data` as `name`; refuses names with quotes or
    /// line breaks and data over [`block::MAX_LEN`] bytes.
    pub fn new(name: &str, data: Vec<u8>) -> Result<Self, DriverError> {
        check_file_name(name)?;
        if data.len() > block::MAX_LEN {
            return Err(DriverError::new(
                ErrorKind::OutOfRange,
                format!(
                    "{} bytes do not fit one IEEE 488.2 block (max {})",
                    data.len(),
                    block::MAX_LEN
                ),
            ));
        }
        Ok(Self { name: name.to_owned(), data })
    }
}

impl Command for MmemData {
    type Reply = ();

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("MMEM:DATA '{}',", self.name).as_bytes());
        block::encode(&self.data, out);
    }

    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::None
    }

    fn parse(&self, _reply: &[u8]) -> Result<(), DriverError> {
        Ok(())
    }
}

/// `MMEM:DATA? '<name>'`: reads a file from the instrument, as a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmemDataQuery {
    name: String,
}

impl MmemDataQuery {
    /// The query reading file `name`.
    pub fn new(name: &str) -> Result<Self, DriverError> {
        check_file_name(name)?;
        Ok(Self { name: name.to_owned() })
    }
}

impl Command for MmemDataQuery {
    type Reply = Vec<u8>;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("MMEM:DATA? '{}'", self.name).as_bytes());
    }

    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::Block
    }

    fn parse(&self, reply: &[u8]) -> Result<Vec<u8>, DriverError> {
        Ok(reply.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<C: Command>(c: &C) -> String {
        String::from_utf8(c.to_bytes()).unwrap()
    }

    #[test]
    fn idn_parses_the_four_fields() {
        assert_eq!(encoded(&Idn), "*IDN?");
        let id = Idn.parse(b"Rohde&Schwarz,SGS100A,1416.0505k02/110001,4.2.76.0").unwrap();
        assert_eq!(id.vendor, "Rohde&Schwarz");
        assert_eq!(id.model, "SGS100A");
        assert_eq!(id.serial, "1416.0505k02/110001");
        assert_eq!(id.firmware, "4.2.76.0");
        // Firmware strings may contain commas: everything after the third.
        assert_eq!(Idn.parse(b"A,B,C,1.0,beta").unwrap().firmware, "1.0,beta");
        assert_eq!(Idn.parse(b"A,B").unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn syst_err_parses_codes_and_quoted_messages() {
        assert_eq!(encoded(&SystErr), "SYST:ERR?");
        assert_eq!(
            SystErr.parse(b"0,\"No error\"").unwrap(),
            ErrorEntry { code: 0, message: "No error".into() }
        );
        let e = SystErr.parse(b"-222,\"Data out of range;FREQ 13e9\"").unwrap();
        assert_eq!(e.code, -222);
        assert_eq!(e.message, "Data out of range;FREQ 13e9");
        assert_eq!(e.to_string(), "-222,\"Data out of range;FREQ 13e9\"");
        assert!(SystErr.parse(b"oops").is_err());
        assert!(SystErr.parse(b"x,\"y\"").is_err());
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(parse_number(b"5.1E+09").unwrap(), 5.1e9);
        assert_eq!(parse_number(b" -3.5 ").unwrap(), -3.5);
        assert!(parse_number(b"NaN").is_err());
        assert!(parse_number(b"").is_err());
        assert!(parse_bool(b"ON").unwrap() && parse_bool(b"1").unwrap());
        assert!(!parse_bool(b"off").unwrap() && !parse_bool(b"0").unwrap());
        assert!(parse_bool(b"2").is_err());
    }

    #[test]
    fn opc_and_simple_commands() {
        assert_eq!(encoded(&RST), "*RST");
        assert_eq!(RST.reply_shape(), ReplyShape::None);
        assert_eq!(encoded(&Opc), "*OPC?");
        assert!(Opc.parse(b"1").is_ok());
        assert!(Opc.parse(b"0").is_err());
    }

    #[test]
    fn mmem_data_carries_a_block() {
        let cmd = MmemData::new("list.lsw", b"a\nb".to_vec()).unwrap();
        assert_eq!(encoded(&cmd), "MMEM:DATA 'list.lsw',#13a\nb");
        let q = MmemDataQuery::new("list.lsw").unwrap();
        assert_eq!(encoded(&q), "MMEM:DATA? 'list.lsw'");
        assert_eq!(q.reply_shape(), ReplyShape::Block);
        for bad in ["", "a'b", "a\"b", "a\nb"] {
            assert_eq!(MmemDataQuery::new(bad).unwrap_err().kind(), ErrorKind::OutOfRange);
        }
    }
}
