//! Rohde & Schwarz SGS100A SGMA RF source: a CW signal source (qubit drive
//! and readout local oscillator), SCPI over LAN (port 5025) or serial.
//!
//! - [`commands`]: its wire commands.
//! - [`emulated`]: the emulated instrument the tests (and CI) run against.

pub mod commands;
pub mod emulated;

use crate::error::{DriverError, ErrorKind};
use crate::registry::{DriverFactory, InstrumentDriver};
use crate::scpi::ScpiSession;
use crate::scpi::command::{self, MmemData, MmemDataQuery};
use crate::transport::Transport;
use eigen_hal::instrument::{Identity, Instrument, InstrumentError, SignalSource};
use eigen_hal::units::Hertz;

/// The registry key of this driver.
pub const MODEL: &str = "rohde_schwarz_sgs100a";

/// The lowest settable frequency (1 MHz).
pub const MIN_FREQUENCY: Hertz = Hertz(1e6);
/// The highest settable frequency (12.75 GHz, option SGS-B112).
pub const MAX_FREQUENCY: Hertz = Hertz(12.75e9);
/// The lowest settable level (dBm, with the step attenuator option).
pub const MIN_POWER_DBM: f64 = -120.0;
/// The highest settable level (dBm, high-power option).
pub const MAX_POWER_DBM: f64 = 25.0;

/// True when `*IDN?` says this is an SGS100A.
#[must_use]
pub fn matches(identity: &Identity) -> bool {
    identity.vendor.to_ascii_lowercase().starts_with("rohde")
        && identity.model.eq_ignore_ascii_case("SGS100A")
}

/// The registry entry of this driver.
#[must_use]
pub fn factory() -> DriverFactory {
    DriverFactory {
        model: MODEL,
        description: "Rohde & Schwarz SGS100A RF source (SignalSource)",
        matches,
        open: |session| Ok(Box::new(Sgs100a::open(session)?)),
    }
}

/// An SGS100A on a SCPI session.
#[derive(Debug)]
pub struct Sgs100a<T: Transport> {
    session: ScpiSession<T>,
    identity: Identity,
}

impl<T: Transport> Sgs100a<T> {
    /// Takes over `session` after checking with `*IDN?` that the instrument
    /// is an SGS100A.
    pub fn open(mut session: ScpiSession<T>) -> Result<Self, DriverError> {
        let identity = session.send(&command::Idn)?;
        if !matches(&identity) {
            return Err(DriverError::new(
                ErrorKind::UnknownModel,
                format!(
                    "{} identifies as {} {}, not a Rohde & Schwarz SGS100A; configure the \
                     driver for that model",
                    session.describe(),
                    identity.vendor,
                    identity.model
                ),
            ));
        }
        tracing::debug!(instrument = %session.describe(), serial = %identity.serial, "SGS100A connected");
        Ok(Self { session, identity })
    }

    /// The identity read when the driver opened.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The RF frequency now.
    pub fn frequency(&mut self) -> Result<Hertz, DriverError> {
        self.session.send(&commands::Frequency)
    }

    /// The RF level now, in dBm.
    pub fn power_dbm(&mut self) -> Result<f64, DriverError> {
        self.session.send(&commands::Power)
    }

    /// Whether the RF output is on.
    pub fn output(&mut self) -> Result<bool, DriverError> {
        self.session.send(&commands::Output)
    }

    /// Stores `data` as file `name` on the instrument (list-mode tables,
    /// user correction data).
    pub fn store_file(&mut self, name: &str, data: Vec<u8>) -> Result<(), DriverError> {
        self.session.send(&MmemData::new(name, data)?)?;
        self.session.check_errors()
    }

    /// Reads file `name` from the instrument.
    pub fn load_file(&mut self, name: &str) -> Result<Vec<u8>, DriverError> {
        let query = MmemDataQuery::new(name)?;
        match self.session.send(&query) {
            Ok(data) => Ok(data),
            // A missing file yields no block but an error-queue entry: report
            // the instrument's reason rather than the timeout.
            Err(e) if e.kind() == ErrorKind::Timeout => {
                self.session.check_errors()?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    fn set_tone_checked(&mut self, frequency: Hertz, power_dbm: f64) -> Result<(), DriverError> {
        if !(MIN_FREQUENCY.get()..=MAX_FREQUENCY.get()).contains(&frequency.get()) {
            return Err(DriverError::new(
                ErrorKind::OutOfRange,
                format!(
                    "SGS100A frequency {frequency} is outside {MIN_FREQUENCY}..={MAX_FREQUENCY}; \
                     choose an LO frequency in range (or an IF that brings it there)"
                ),
            ));
        }
        if !(MIN_POWER_DBM..=MAX_POWER_DBM).contains(&power_dbm) {
            return Err(DriverError::new(
                ErrorKind::OutOfRange,
                format!(
                    "SGS100A level {power_dbm} dBm is outside {MIN_POWER_DBM}..={MAX_POWER_DBM} dBm"
                ),
            ));
        }
        self.session.send(&commands::SetFrequency(frequency))?;
        self.session.send(&commands::SetPower(power_dbm))?;
        // Wait for the synthesizer to settle, then make sure it took both.
        self.session.send(&command::Opc)?;
        self.session.check_errors()
    }
}

impl<T: Transport> Instrument for Sgs100a<T> {
    fn identify(&mut self) -> Result<Identity, InstrumentError> {
        Ok(self.session.send(&command::Idn)?)
    }

    fn reset(&mut self) -> Result<(), InstrumentError> {
        Ok(self.session.reset()?)
    }

    fn errors(&mut self) -> Result<Vec<String>, InstrumentError> {
        Ok(self.session.error_messages()?)
    }
}

impl<T: Transport> SignalSource for Sgs100a<T> {
    fn set_tone(&mut self, frequency: Hertz, power_dbm: f64) -> Result<(), InstrumentError> {
        Ok(self.set_tone_checked(frequency, power_dbm)?)
    }

    fn set_output(&mut self, on: bool) -> Result<(), InstrumentError> {
        self.session.send(&commands::SetOutput(on))?;
        Ok(self.session.check_errors()?)
    }
}

impl<T: Transport + 'static> InstrumentDriver for Sgs100a<T> {
    fn model(&self) -> &'static str {
        MODEL
    }

    fn as_signal_source(&mut self) -> Option<&mut dyn SignalSource> {
        Some(self)
    }
}
