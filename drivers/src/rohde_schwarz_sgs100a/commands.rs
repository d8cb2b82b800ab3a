//! The SGS100A's own wire commands (R&S SGS100A user manual, SOURce and
//! OUTPut subsystems), each a typed value.

use crate::scpi::command::{parse_bool, parse_number, query, setting};
use eigen_hal::units::Hertz;

/// `SOUR:FREQ:CW <hz>`: the RF frequency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetFrequency(pub Hertz);
setting!(SetFrequency, |s, out| {
    // `{}` on f64 never uses exponents and round-trips exactly.
    out.extend_from_slice(format!("SOUR:FREQ:CW {}", s.0.get()).as_bytes());
});

/// `SOUR:FREQ:CW?`: the RF frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frequency;
query!(Frequency => Hertz, |_s, out| { out.extend_from_slice(b"SOUR:FREQ:CW?") }, |reply| {
    parse_number(reply).map(Hertz)
});

/// `SOUR:POW:LEV:IMM:AMPL <dBm>`: the RF level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetPower(pub f64);
setting!(SetPower, |s, out| {
    out.extend_from_slice(format!("SOUR:POW:LEV:IMM:AMPL {}", s.0).as_bytes());
});

/// `SOUR:POW:LEV:IMM:AMPL?`: the RF level in dBm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Power;
query!(Power => f64, |_s, out| { out.extend_from_slice(b"SOUR:POW:LEV:IMM:AMPL?") }, parse_number);

/// `OUTP:STAT ON|OFF`: the RF output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetOutput(pub bool);
setting!(SetOutput, |s, out| {
    out.extend_from_slice(if s.0 { b"OUTP:STAT ON" } else { b"OUTP:STAT OFF" });
});

/// `OUTP:STAT?`: whether the RF output is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output;
query!(Output => bool, |_s, out| { out.extend_from_slice(b"OUTP:STAT?") }, parse_bool);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::scpi::command::Command;

    fn encoded<C: Command>(c: &C) -> String {
        String::from_utf8(c.to_bytes()).unwrap()
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
