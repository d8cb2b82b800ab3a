//! The SGS100A's own wire commands (R&S SGS100A user manual, SOURce and
//! OUTPut subsystems), each a typed value.

use crate::error::DriverError;
use crate::scpi::command::{Command, ReplyShape, parse_bool, parse_number};
use eigen_hal::units::Hertz;

/// `SOUR:FREQ:CW <hz>`: the RF frequency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetFrequency(pub Hertz);

impl Command for SetFrequency {
    type Reply = ();
    fn encode(&self, out: &mut Vec<u8>) {
        // `{}` on f64 never uses exponents and round-trips exactly.
        out.extend_from_slice(format!("SOUR:FREQ:CW {}", self.0.get()).as_bytes());
    }
    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::None
    }
    fn parse(&self, _reply: &[u8]) -> Result<(), DriverError> {
        Ok(())
    }
}

/// `SOUR:FREQ:CW?`: the RF frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frequency;

impl Command for Frequency {
    type Reply = Hertz;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SOUR:FREQ:CW?");
    }
    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::Line
    }
    fn parse(&self, reply: &[u8]) -> Result<Hertz, DriverError> {
        parse_number(reply).map(Hertz)
    }
}

/// `SOUR:POW:LEV:IMM:AMPL <dBm>`: the RF level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetPower(pub f64);

impl Command for SetPower {
    type Reply = ();
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("SOUR:POW:LEV:IMM:AMPL {}", self.0).as_bytes());
    }
    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::None
    }
    fn parse(&self, _reply: &[u8]) -> Result<(), DriverError> {
        Ok(())
    }
}

/// `SOUR:POW:LEV:IMM:AMPL?`: the RF level in dBm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Power;

impl Command for Power {
    type Reply = f64;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SOUR:POW:LEV:IMM:AMPL?");
    }
    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::Line
    }
    fn parse(&self, reply: &[u8]) -> Result<f64, DriverError> {
        parse_number(reply)
    }
}

/// `OUTP:STAT ON|OFF`: the RF output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetOutput(pub bool);

impl Command for SetOutput {
    type Reply = ();
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.0 { b"OUTP:STAT ON" } else { b"OUTP:STAT OFF" });
    }
    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::None
    }
    fn parse(&self, _reply: &[u8]) -> Result<(), DriverError> {
        Ok(())
    }
}

/// `OUTP:STAT?`: whether the RF output is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output;

impl Command for Output {
    type Reply = bool;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"OUTP:STAT?");
    }
    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::Line
    }
    fn parse(&self, reply: &[u8]) -> Result<bool, DriverError> {
        parse_bool(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn encoded<C: Command>(c: &C) -> String {
        let mut out = Vec::new();
        c.encode(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn settings_encode_plain_numbers() {
        assert_eq!(encoded(&SetFrequency(Hertz::from_ghz(5.1))), "SOUR:FREQ:CW 5100000000");
        assert_eq!(encoded(&SetFrequency(Hertz(1.5e6))), "SOUR:FREQ:CW 1500000");
        assert_eq!(encoded(&SetPower(-12.5)), "SOUR:POW:LEV:IMM:AMPL -12.5");
        assert_eq!(encoded(&SetOutput(true)), "OUTP:STAT ON");
        assert_eq!(encoded(&SetOutput(false)), "OUTP:STAT OFF");
    }

    #[test]
    fn queries_parse_replies() {
        assert_eq!(Frequency.parse(b"5100000000").unwrap(), Hertz(5.1e9));
        assert_eq!(Power.parse(b"-1.25E+01").unwrap(), -12.5);
        assert!(Output.parse(b"1").unwrap());
        assert_eq!(Frequency.parse(b"fast").unwrap_err().kind(), ErrorKind::Protocol);
    }
}
