//! An emulated SGS100A: the state a real one keeps, the commands that change
//! it, and the SCPI errors it raises, so its driver is tested on real
//! sockets and pseudo-terminals.

use super::{MAX_FREQUENCY, MAX_POWER_DBM, MIN_FREQUENCY, MIN_POWER_DBM};
use crate::emulator::{
    EmulatedInstrument, HeaderPattern, Reply, Request, bad_parameter, out_of_range,
    undefined_header,
};
use crate::scpi::ErrorEntry;
use eigen_hal::instrument::Identity;

/// The state of an emulated SGS100A.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatedSgs100a {
    /// The serial number `*IDN?` reports.
    pub serial: String,
    /// RF frequency in hertz.
    pub frequency_hz: f64,
    /// RF level in dBm.
    pub power_dbm: f64,
    /// RF output on.
    pub output: bool,
    frequency: HeaderPattern,
    power: HeaderPattern,
    output_state: HeaderPattern,
}

impl Default for EmulatedSgs100a {
    fn default() -> Self {
        Self::new("1416.0505k02/000000")
    }
}

impl EmulatedSgs100a {
    /// A unit with serial number `serial`, in its power-on state.
    #[must_use]
    pub fn new(serial: &str) -> Self {
        let mut this = Self {
            serial: serial.to_owned(),
            frequency_hz: 0.0,
            power_dbm: 0.0,
            output: false,
            frequency: HeaderPattern::new("[SOURce]:FREQuency[:CW]"),
            power: HeaderPattern::new("[SOURce]:POWer[:LEVel][:IMMediate][:AMPLitude]"),
            output_state: HeaderPattern::new("OUTPut[:STATe]"),
        };
        this.reset();
        this
    }
}

fn number(request: &Request) -> Result<f64, ErrorEntry> {
    request
        .args
        .first()
        .and_then(|a| a.text())
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| bad_parameter(request))
}

impl EmulatedInstrument for EmulatedSgs100a {
    fn identity(&self) -> Identity {
        Identity {
            vendor: "Rohde&Schwarz".into(),
            model: "SGS100A".into(),
            serial: self.serial.clone(),
            firmware: "4.2.76.0-emulated".into(),
        }
    }

    fn reset(&mut self) {
        self.frequency_hz = 1e9;
        self.power_dbm = -20.0;
        self.output = false;
    }

    fn handle(&mut self, request: &Request) -> Result<Option<Reply>, ErrorEntry> {
        let h = request.header.as_str();
        if self.frequency.matches(h) {
            if request.query {
                return Ok(Some(Reply::Line(format!("{}", self.frequency_hz))));
            }
            let v = number(request)?;
            if !(MIN_FREQUENCY.get()..=MAX_FREQUENCY.get()).contains(&v) {
                return Err(out_of_range(&format!("FREQ {v}")));
            }
            self.frequency_hz = v;
            return Ok(None);
        }
        if self.power.matches(h) {
            if request.query {
                return Ok(Some(Reply::Line(format!("{}", self.power_dbm))));
            }
            let v = number(request)?;
            if !(MIN_POWER_DBM..=MAX_POWER_DBM).contains(&v) {
                return Err(out_of_range(&format!("POW {v}")));
            }
            self.power_dbm = v;
            return Ok(None);
        }
        if self.output_state.matches(h) {
            if request.query {
                return Ok(Some(Reply::Line(if self.output { "1" } else { "0" }.into())));
            }
            let arg = request.args.first().and_then(|a| a.text()).map(str::to_ascii_uppercase);
            self.output = match arg.as_deref() {
                Some("ON" | "1") => true,
                Some("OFF" | "0") => false,
                _ => return Err(bad_parameter(request)),
            };
            return Ok(None);
        }
        Err(undefined_header(request))
    }
}
